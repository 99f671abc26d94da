"""Read-only in the memory itself (binding: py/src/payload.rs, dlpack.rs; core: pool/src/pool.rs):
a received or frozen payload is mapped read-only, so a write through any view of it (torch,
NumPy from a legacy capsule, a memoryview, ctypes) kills the writer with SIGSEGV instead of
changing a frame others read; loans stay writable; capsule destructors keep an exception in
flight; views left alive after the namespace is left read zeros, not a reused slot."""

import signal
import subprocess
import textwrap

import numpy as np
import pytest
from _children import run_python, spawn_python

H, W = 32, 32  # 3 KiB rgb8: the 4 KiB class


def _known():
    return ((np.arange(H * W * 3).reshape(H, W, 3) * 7 + 3) % 256).astype(np.uint8)


def _src(body):
    """`body` as a script that opens the namespace named by its first argument."""
    return "import sys, ctypes, numpy as np, tensorbus as tb\ntb.use_namespace(sys.argv[1])\n" + textwrap.dedent(body)


def _run(ns, body, stdin=None):
    """Run `body` in a fresh interpreter on namespace `ns` (same shm directory as the tests)."""
    return run_python(_src(body), ns, input=stdin)


# Each receives the parent's frame from the topic (`p`), says so, then writes through one kind
# of view. The write must be the thing that kills it.
WRITES = {
    "torch": "p.to_torch()[0, 0, 0] = 1",
    "torch.from_dlpack": "import torch; torch.from_dlpack(p).fill_(1)",
    "np.from_dlpack of a torch view": "import torch; a = np.from_dlpack(p.to_torch()); assert a.flags.writeable; a[:] = 1",
    "memoryview cast": "memoryview((ctypes.c_ubyte * p.nbytes).from_address(p.data_ptr)).cast('B')[5] = 1",
    "ctypes.memmove": "ctypes.memmove(p.data_ptr, b'x' * 16, 16)",
    "numpy view of torch": "import torch; p.to_torch().numpy()[:] = 1",
}


@pytest.mark.multiprocess
@pytest.mark.parametrize("how", list(WRITES))
def test_write_through_a_received_frame_dies_with_sigsegv(tb, fresh_ns, how):
    topic = tb.Topic("ro.cam", "Image")
    img = tb.Image.from_numpy(_known())
    topic.send(img)
    body = "p = tb.Topic('ro.cam', 'Image').latest()\nassert p.readonly\nprint('got', flush=True)\n" + WRITES[how] + "\nprint('wrote', flush=True)\n"
    r = _run(fresh_ns, body)
    assert r.stdout.split() == ["got"], (r.stdout, r.stderr[-2000:])
    assert r.returncode == -signal.SIGSEGV, f"the write did not fault (rc {r.returncode}): {r.stderr[-2000:]}"
    np.testing.assert_array_equal(img.to_numpy(), _known(), err_msg="the shared frame changed")


@pytest.mark.multiprocess
def test_write_through_a_frame_received_in_the_same_process_dies_with_sigsegv(tb, fresh_ns):
    body = """
    t = tb.Topic('ro.self', 'Image'); t.recv()
    t.send(tb.Image.from_numpy(np.full((32, 32, 3), 9, np.uint8)))
    p = t.recv(timeout=5.0)
    print('got', flush=True)
    p.to_torch().fill_(1)
    """
    r = _run(fresh_ns, body)
    assert (r.stdout.split(), r.returncode) == (["got"], -signal.SIGSEGV), r.stderr[-2000:]


def test_loans_stay_writable_and_their_numpy_views_turn_read_only_at_send(tb, fresh_ns):
    import ctypes

    import torch

    topic = tb.Topic("ro.loan", "Image")
    topic.recv()
    img = tb.Image(H, W, "rgb8")
    loan_ptr = img.data_ptr
    a = img.to_numpy()
    assert a.flags.writeable and a.ctypes.data == loan_ptr
    a[:] = 1
    img.to_torch()[0].fill_(2)
    ctypes.memmove(loan_ptr + 3, b"\x03\x03", 2)
    topic.send(img)
    assert not a.flags.writeable, "NumPy views of the loan are read-only once sent"
    with pytest.raises(ValueError):
        a[0, 0, 0] = 9
    # Shared, the payload is read through the read-only alias of the same slot.
    assert img.readonly and img.data_ptr != loan_ptr
    b = img.to_numpy()
    assert not b.flags.writeable and b.ctypes.data == img.data_ptr
    assert torch.from_dlpack(img).data_ptr() == img.data_ptr
    got = topic.recv(timeout=5.0)
    assert got.data_ptr == img.data_ptr and got.slot == img.slot, "zero copy: the receiver reads the same alias"
    want = np.ones((H, W, 3), np.uint8)
    want[0] = 2
    want[0, 1, 0:2] = 3
    np.testing.assert_array_equal(got.to_numpy(), want)
    np.testing.assert_array_equal(a, want, err_msg="the loan's view shows the same pages")


def test_capsule_destroyed_while_an_exception_propagates_keeps_it(tb, fresh_ns):
    import torch

    def consumed(p):
        cap = p.__dlpack__()
        torch.utils.dlpack.from_dlpack(cap)  # renames it used_dltensor
        return cap

    def unconsumed(p):
        return p.__dlpack__(max_version=(1, 0))

    def boom():
        raise KeyError("in flight")

    def call(*args):
        raise AssertionError("not reached")

    for make in (consumed, unconsumed):
        for p in (tb.Tensor((4,), "int32"), tb.Image.from_numpy(_known())):
            if make is unconsumed:
                p.freeze()
            # The capsule is a temporary on the frame's value stack: unwinding from boom()
            # destroys it with the KeyError set.
            with pytest.raises(KeyError, match="in flight"):
                call(make(p), boom())
    assert tb.pool_stats()["used_slots"] == 1, "only the last Image's slot is held (by `p`)"


@pytest.mark.multiprocess
def test_views_alive_after_shutdown_read_zeros_not_a_reused_slot(tb, fresh_ns):
    body = """
    import torch
    loan = tb.Image(32, 32, 'rgb8')
    loan.to_numpy()[:] = 0x11
    loan_view = loan.to_torch()  # a view of the writable mapping
    loan.freeze()
    views = {'numpy': loan.to_numpy(), 'torch': loan.to_torch(), 'loan torch view': loan_view}
    cap = loan.__dlpack__(max_version=(1, 0))
    print(*loan.slot[:2], flush=True)
    tb._native._shutdown()  # what atexit does: leave the namespace
    print('left', flush=True)
    sys.stdin.readline()  # the parent reuses the slot meanwhile
    views['capsule'] = torch.utils.dlpack.from_dlpack(cap)
    for k, v in views.items():
        a = np.asarray(v)
        print(k, int(a.min()), int(a.max()), flush=True)
    """
    child = spawn_python(_src(body), fresh_ns, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pool, slot = map(int, child.stdout.readline().split())
        assert child.stdout.readline().strip() == "left"
        loans = []
        for _ in range(64):
            loans.append(tb.Image(H, W, "rgb8"))
            if loans[-1].slot[:2] == (pool, slot):
                break
        else:
            pytest.fail("the slot the child left never came back")
        loans[-1].to_numpy()[:] = 0xAB  # another process's new frame in the same slot
        out, err = child.communicate("go\n", timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, err[-2000:]
    seen = {line.rsplit(" ", 2)[0]: tuple(map(int, line.rsplit(" ", 2)[1:])) for line in out.splitlines()}
    assert seen == {k: (0, 0) for k in ("numpy", "torch", "loan torch view", "capsule")}, f"a view read the reused slot: {seen}"
