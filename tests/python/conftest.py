"""Shared fixtures: every test session gets its own shared-memory directory, so tests never see
(or leave behind) segments of a running system, and child processes inherit it. The helpers they
and the tests use (child processes, waiting, namespaces) are in _children.py."""

import os
import shutil
import tempfile

_base = tempfile.mkdtemp(prefix="tensorbus-test-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
os.environ["TENSORBUS_SHM_DIR"] = _base
os.environ["TENSORBUS_NAMESPACE"] = "pytest"

import pytest  # noqa: E402
from _children import use_namespace  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    import tensorbus

    tensorbus._native._shutdown()
    shutil.rmtree(_base, ignore_errors=True)


@pytest.fixture
def tb():
    import tensorbus

    return tensorbus


@pytest.fixture
def fresh_ns(tb, request):
    """A namespace of this test's own (its pools start empty)."""
    name = "t-" + request.node.name.replace("[", "-").replace("]", "").replace("/", "-")[:40]
    with use_namespace(tb, name):
        yield name
