#!/usr/bin/env python3
"""File-level module dependency graph of a Rust crate, and its cycles.

    python3 tools/modgraph.py pool/src [py/src ...]   # edges, then cycles; exit 1 if any
    python3 tools/modgraph.py -q pool/src py/src      # only the cycles and a count (make lint)

A file depends on another when it names an item that the other file defines: `use crate::a::B`,
`super::b::C`, `self::child::D`, a bare `child::E` from the parent, or an inline `crate::a::f()`
path. Re-exports are followed to the file that defines the item (`use crate::Topic` resolves
through lib.rs's `pub use ring::Topic` to ring's file), so a parent that only declares and
re-exports its children is not a hub. `mod child;` declarations are not dependencies, and
`#[cfg(test)]` modules are left out (tests may reach anywhere). A light tokenizer (comments and
string literals stripped), not a compiler: it is meant for this repository's code, which uses
plain `use` trees and paths.
"""

import re
import sys
from pathlib import Path

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(src: str) -> str:
    """Blank out comments and string/char literals, keeping offsets (newlines survive)."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', src[i:i + 10]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            hashes = re.match(r"r(#*)\"", src[i:]).group(1)
            end = src.find('"' + hashes, i + 2 + len(hashes))
            j = n if end < 0 else end + 1 + len(hashes)
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append(re.sub(r"[^\n]", " ", src[i:j + 1]))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", src[i:i + 4]) or src.startswith("'\\u{", i):
            j = src.find("'", i + 1) + 1
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def match_brace(text: str, open_at: int) -> int:
    depth = 0
    for j in range(open_at, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(text)


def drop_test_modules(text: str) -> str:
    for m in reversed(list(re.finditer(r"#\[cfg\([^\]]*\btest\b[^\]]*\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+" + IDENT + r"\s*\{", text))):
        end = match_brace(text, m.end() - 1)
        text = text[: m.start()] + re.sub(r"[^\n]", " ", text[m.start(): end + 1]) + text[end + 1:]
    return text


def renamed(path: list) -> tuple:
    """A use path from `expand_use_tree` as (the path of the item, the name it is known by)."""
    item, _, alias = path[-1].partition("@")
    return path[:-1] + [item], alias or item


def expand_use_tree(tree: str) -> list:
    """`a::{b, c::{d, e as f}}` -> [[a, b], [a, c, d], [a, c, e@f]] (globs and `self` kept as
    segments; a rename stays on its last segment, see `renamed`)."""
    tree = re.sub(r"\s+as\s+(" + IDENT + ")", r"@\1", tree)  # `X as Y` -> `X@Y` (see `renamed`)
    tree = re.sub(r"\s+", "", tree)

    def parse(s: str, prefix: list) -> list:
        items, depth, cur = [], 0, ""
        for ch in s:
            if ch == "," and depth == 0:
                items.append(cur)
                cur = ""
                continue
            depth += ch == "{"
            depth -= ch == "}"
            cur += ch
        items.append(cur)
        paths = []
        for item in items:
            if not item:
                continue
            if "{" in item:
                head = item[: item.index("{")].rstrip(":")
                inner = item[item.index("{") + 1: item.rindex("}")]
                paths += parse(inner, prefix + [x for x in head.split("::") if x])
            else:
                paths.append(prefix + [x for x in item.split("::") if x])
        return paths

    return parse(tree, [])


class Crate:
    def __init__(self, src: Path):
        self.src = src
        self.files = {}  # module path (tuple) -> file
        for f in sorted(src.rglob("*.rs")):
            rel = f.relative_to(src)
            if rel.parts[0] == "bin" or rel.name in ("build.rs",):
                continue
            parts = list(rel.with_suffix("").parts)
            if parts in (["lib"], ["main"]):
                parts = []
            elif parts[-1] == "mod":
                parts = parts[:-1]
            self.files[tuple(parts)] = f
        self.text = {m: drop_test_modules(strip(f.read_text())) for m, f in self.files.items()}
        self.reexports = {}  # (module, name) -> absolute path segments
        for mod, text in self.text.items():
            for m in re.finditer(r"\bpub(\([^)]*\))?\s+use\s+([^;]+);", text):
                for path in expand_use_tree(m.group(2)):
                    path, name = renamed(path)
                    absolute = self.absolute(mod, path)
                    if absolute and name not in ("*", "self"):
                        self.reexports[(mod, name)] = absolute

    def children(self, mod: tuple) -> set:
        return {m[len(mod)] for m in self.files if len(m) == len(mod) + 1 and m[: len(mod)] == mod}

    def absolute(self, mod: tuple, path: list):
        """Absolute segments for a path written in module `mod`, or None when it leaves the crate."""
        if not path:
            return None
        head, rest = path[0], path[1:]
        if head == "crate":
            return list(rest)
        if head == "self":
            return list(mod) + rest
        if head == "super":
            base = list(mod)
            while path and path[0] == "super":
                base = base[:-1]
                path = path[1:]
            return base + list(path)
        if head in self.children(mod):
            return list(mod) + list(path)
        return None

    def resolve(self, segs: list, depth: int = 0):
        """The module (file) that defines the item at absolute path `segs`."""
        best = ()
        for k in range(len(segs), -1, -1):
            if tuple(segs[:k]) in self.files:
                best = tuple(segs[:k])
                break
        rest = segs[len(best):]
        if rest and depth < 8 and (best, rest[0]) in self.reexports:
            return self.resolve(self.reexports[(best, rest[0])] + rest[1:], depth + 1)
        return best

    def edges(self) -> dict:
        graph = {m: set() for m in self.files}
        for mod, text in self.text.items():
            paths = []
            for m in re.finditer(r"\buse\s+([^;]+);", text):
                paths += [renamed(p)[0] for p in expand_use_tree(m.group(1))]
            code = re.sub(r"\buse\s+[^;]+;", " ", text)
            kids = self.children(mod)
            pattern = r"\b(?:crate|super|self" + "".join("|" + re.escape(k) for k in kids) + r")(?:\s*::\s*" + IDENT + r")+"
            for m in re.finditer(pattern, code):
                paths.append([s.strip() for s in m.group(0).split("::")])
            for path in paths:
                absolute = self.absolute(mod, path)
                if absolute is None:
                    continue
                target = self.resolve([s for s in absolute if s not in ("*", "self")])
                if target != mod:
                    graph[mod].add(target)
        return graph

    def name(self, mod: tuple) -> str:
        return str(self.files[mod].relative_to(self.src))


def cycles(graph: dict) -> list:
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main(argv: list) -> int:
    quiet = "-q" in argv
    argv = [a for a in argv if a != "-q"]
    bad = 0
    for arg in argv or ["pool/src"]:
        crate = Crate(Path(arg))
        graph = crate.edges()
        print(f"== {arg}: {len(graph)} files")
        for mod in sorted(graph, key=crate.name) if not quiet else []:
            deps = sorted(crate.name(t) for t in graph[mod])
            print(f"  {crate.name(mod)} -> {', '.join(deps) if deps else '(nothing)'}")
        found = cycles(graph)
        for comp in found:
            print("  CYCLE: " + " <-> ".join(sorted(crate.name(m) for m in comp)))
        print(f"  {len(found)} cycle(s)")
        bad += len(found)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
