"""fork children (multiprocessing with the fork start method, torch DataLoader workers, a bare
os.fork child killed with SIGKILL) share the pool with their parent without corrupting its frames
or leaking slots (docs/reliability.md, "Process models").

Before the fix a child inherited its parent's holder bit: dropping an inherited frame cleared the
parent's hold, the child's own claims then reused the parent's slot, and a killed child's claims
leaked under the parent's bit forever."""

import multiprocessing
import os
import signal
import time

import numpy as np
import pytest

pytestmark = [
    pytest.mark.multiprocess,
    # JAX (imported by other tests in the session) warns from an at-fork hook that forking a
    # process with JAX's threads may deadlock; these children never touch JAX.
    pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning"),
]

SHAPE = (16, 16, 3)
_inherited = []  # frames the children inherit (and drop)


def _pattern(k):
    return np.full(SHAPE, k % 251, dtype=np.uint8)


def _drop_inherited_and_claim(k):
    import tensorbus as tb

    _inherited.clear()  # drops the parent's Image in this child
    made = [tb.Image.from_numpy(_pattern(k * 10 + i)) for i in range(4)]
    ok = all(int(m.to_numpy()[0, 0, 0]) == (k * 10 + i) % 251 for i, m in enumerate(made))
    return ok


def _parent_frame(tb):
    """The parent's frame, referenced only from `_inherited`: a child that clears the list drops
    the last reference it has (the parent reads it back through `_intact`)."""
    _inherited[:] = [tb.Image.from_numpy(_pattern(7))]


def _intact():
    frame = _inherited.pop()
    ok = bool((frame.to_numpy() == 7).all())
    del frame
    return ok


def _wait_used(tb, want, timeout=10.0):
    end = time.monotonic() + timeout
    while True:
        tb.reap()
        used = tb.pool_stats()["used_slots"]
        if used == want or time.monotonic() > end:
            return used
        time.sleep(0.05)


def test_multiprocessing_fork_pool(tb, fresh_ns):
    _parent_frame(tb)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        assert all(pool.map(_drop_inherited_and_claim, range(8)))
    assert _wait_used(tb, 1) == 1, "fork workers leaked slots (or released the parent's)"
    assert _intact(), "a fork worker overwrote the parent's frame"


class _FrameDataset:
    """A Dataset whose workers make pool frames and return copies as tensors."""

    def __len__(self):
        return 16

    def __getitem__(self, i):
        import tensorbus as tb
        import torch

        _inherited.clear()
        frame = tb.Image.from_numpy(_pattern(100 + i))
        return torch.from_numpy(frame.to_numpy().copy())


def test_torch_dataloader_workers(tb, fresh_ns):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    _parent_frame(tb)
    loader = DataLoader(_FrameDataset(), batch_size=4, num_workers=2, multiprocessing_context="fork")
    seen = []
    for batch in loader:
        assert batch.shape == (4,) + SHAPE
        seen.extend(int(x) for x in batch[:, 0, 0, 0])
    del loader
    assert sorted(seen) == [(100 + i) % 251 for i in range(16)]
    assert isinstance(_inherited[0].to_torch(), torch.Tensor)
    assert _wait_used(tb, 1) == 1, "DataLoader workers leaked slots (or released the parent's)"
    assert _intact(), "a DataLoader worker overwrote the parent's frame"


def test_sigkilled_fork_child_leaks_nothing(tb, fresh_ns):
    _parent_frame(tb)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            _inherited.clear()
            frames = [tb.Image.from_numpy(_pattern(50 + i)) for i in range(3)]
            os.write(w, b"k" if all(f.to_numpy()[0, 0, 0] == 50 + i for i, f in enumerate(frames)) else b"x")
        finally:
            os.kill(os.getpid(), signal.SIGKILL)
    os.close(w)
    assert os.read(r, 1) == b"k"
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert _wait_used(tb, 1) == 1, "the killed child's slots were not reaped"
    assert _intact()
