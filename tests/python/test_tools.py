"""tools/modgraph.py, the module-cycle gate of `make lint`: it finds a cycle between two files,
follows re-exports to the defining file (a parent that only re-exports is no hub), and ignores
`mod` declarations, test modules, comments and strings."""

import subprocess
import sys
from pathlib import Path

MODGRAPH = Path(__file__).resolve().parents[2] / "tools" / "modgraph.py"


def graph(tmp_path, files):
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return subprocess.run([sys.executable, str(MODGRAPH), str(tmp_path)], capture_output=True, text=True)


def test_a_cycle_between_two_files_fails(tmp_path):
    r = graph(tmp_path, {
        "lib.rs": "mod a;\nmod b;\n",
        "a.rs": "use crate::b::B;\npub struct A;\n",
        "b.rs": "pub struct B;\npub fn f() -> crate::a::A { crate::a::A }\n",
    })
    assert r.returncode == 1 and "CYCLE: a.rs <-> b.rs" in r.stdout, r.stdout


def test_reexports_resolve_to_the_defining_file(tmp_path):
    # ring/handles.rs names `super::Seg`, which ring/mod.rs only re-exports from ring/seg.rs:
    # the edge goes to seg.rs, so mod.rs -> handles.rs is no cycle.
    r = graph(tmp_path, {
        "lib.rs": "pub mod ring;\npub use ring::{Handle, Seg as S};\n",
        "ring/mod.rs": "mod handles;\nmod seg;\npub use handles::Handle;\npub use seg::Seg;\n",
        "ring/handles.rs": "use super::Seg;\npub struct Handle(Seg);\n",
        "ring/seg.rs": "pub struct Seg;\n",
        "user.rs": "use crate::S;\n",
    })
    assert r.returncode == 0, r.stdout
    assert "ring/handles.rs -> ring/seg.rs" in r.stdout and "user.rs -> ring/seg.rs" in r.stdout, r.stdout


def test_tests_comments_and_strings_are_not_dependencies(tmp_path):
    r = graph(tmp_path, {
        "lib.rs": "mod a;\nmod b;\n",
        "a.rs": "use crate::b::B;\npub struct A;\n",
        "b.rs": ('pub struct B;\n// crate::a::A in a comment\nconst S: &str = "crate::a::A";\n'
                 "#[cfg(test)]\nmod tests {\n    use crate::a::A;\n}\n"),
    })
    assert r.returncode == 0, r.stdout
