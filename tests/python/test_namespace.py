"""The namespace report, reaping, and the exception hierarchy (binding: py/src/namespace.rs, errors.rs)."""

import os

import pytest


def test_pool_stats_reports_this_process(tb, fresh_ns):
    s = tb.pool_stats()
    assert s["dir"].startswith(os.environ["TENSORBUS_SHM_DIR"])
    me = [p for p in s["participants"] if p["pid"] == os.getpid()]
    assert len(me) == 1 and me[0]["alive"] and me[0]["kind"] == "process"
    assert s["used_slots"] == 0


def test_reap_with_nothing_dead_frees_nothing(tb, fresh_ns):
    assert tb.reap() == {"processes": 0, "slots_freed": 0}


def test_segment_dir_is_private(tb, fresh_ns):
    d = tb.pool_stats()["dir"]
    assert os.stat(d).st_mode & 0o777 == 0o700
    for f in os.listdir(d):
        assert os.stat(os.path.join(d, f)).st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "name,builtin",
    [
        ("StaleDescriptorError", ValueError),
        ("AcquireTimeoutError", TimeoutError),
        ("SendTimeoutError", TimeoutError),
        ("ReadOnlyError", BufferError),
        ("DLPackError", BufferError),
        ("DTypeError", TypeError),
        ("ShapeError", ValueError),
        ("TopicTypeError", TypeError),
        ("ShmFullError", MemoryError),
    ],
)
def test_errors_subclass_root_and_builtin(tb, name, builtin):
    cls = getattr(tb, name)
    assert issubclass(cls, tb.TensorbusError) and issubclass(cls, builtin)


@pytest.mark.parametrize("name", ["..", "../up", "/etc", "a/b", "tab\there"])
def test_bad_namespace_name_is_refused(tb, name):
    base = os.environ["TENSORBUS_SHM_DIR"]
    before = os.stat(os.path.dirname(base)).st_mode
    for kwargs in ({}, {"shm_dir": base}):
        with pytest.raises(tb.SegmentError, match="namespace name .* is invalid"):
            tb.use_namespace(name, **kwargs)
    assert os.stat(os.path.dirname(base)).st_mode == before
    assert not os.path.exists(os.path.join(os.path.dirname(base), "registry"))


def test_symlinked_namespace_is_refused(tb, tmp_path):
    target = tmp_path / "victim"
    target.mkdir(mode=0o755)
    os.chmod(target, 0o755)
    link = os.path.join(os.environ["TENSORBUS_SHM_DIR"], "t-linked")
    os.symlink(target, link)
    try:
        with pytest.raises(tb.SegmentError, match="symbolic link"):
            tb.use_namespace("t-linked")
        assert os.stat(target).st_mode & 0o777 == 0o755 and os.listdir(target) == []
    finally:
        os.unlink(link)
        tb.use_namespace("pytest")
