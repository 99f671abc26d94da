"""Lifetimes in the iceoryx2 spirit: a view (NumPy, torch, JAX, DLPack) outlives its payload
wrapper and its slot is not reused while the view lives; every slot comes back at the end, also
when a peer process is SIGKILLed while holding frames (binding: py/src/payload.rs, dlpack.rs)."""

import gc

import numpy as np
import pytest
from _children import HOLDER, Child

H, W = 32, 32  # 3 KiB rgb8: the 4 KiB class


def _known(i=0):
    return ((np.arange(H * W * 3).reshape(H, W, 3) * 3 + i) % 256).astype(np.uint8)


def _churn(tb, held_slots, rounds=300, batch=64):
    """Claim and release many images of the same size class, scribbling over each; none may
    land in a slot a view still holds."""
    for _ in range(rounds // batch + 1):
        imgs = [tb.Image(H, W, "rgb8") for _ in range(batch)]
        for im in imgs:
            assert im.slot[:2] not in held_slots, f"held slot {im.slot} was handed out again"
            im.to_numpy()[:] = 0xEE
        del imgs, im  # refcounting frees them: LIFO claim hands the same slots out again


def _used(tb):
    # No gc.collect(): views and payloads are freed by refcounting alone (and a collect costs
    # ~0.4 s once JAX is loaded).
    return tb.pool_stats()["used_slots"]


@pytest.mark.parametrize("view", ["numpy", "torch", "jax", "torch.from_dlpack", "np.from_dlpack", "capsule"])
@pytest.mark.parametrize("state", ["loaned", "frozen"])
def test_view_outlives_its_image_and_keeps_the_slot(tb, fresh_ns, view, state):
    import torch

    img = tb.Image(H, W, "rgb8")
    img.to_numpy()[:] = _known(1)
    if state == "frozen":
        img.freeze()
    held = {img.slot[:2]}
    ptr = img.data_ptr
    make = {
        "numpy": lambda p: p.to_numpy(),
        "torch": lambda p: p.to_torch(),
        "jax": lambda p: p.to_jax(),
        "torch.from_dlpack": lambda p: torch.from_dlpack(p),
        "np.from_dlpack": lambda p: np.from_dlpack(p),
        "capsule": lambda p: p.__dlpack__(max_version=(1, 0)),
    }[view]
    v = make(img)
    del img
    assert _used(tb) == 1, "the view holds the slot"
    _churn(tb, held)
    assert _used(tb) == 1
    if view == "capsule":
        v = torch.utils.dlpack.from_dlpack(v)  # consume it only now
    data = {"numpy": np.asarray, "np.from_dlpack": np.asarray, "jax": np.asarray}.get(view, lambda x: x.numpy())(v)
    np.testing.assert_array_equal(data, _known(1))
    ptr_now = v.unsafe_buffer_pointer() if view == "jax" else (v.ctypes.data if isinstance(v, np.ndarray) else v.data_ptr())
    assert ptr_now == ptr
    del v, data
    assert _used(tb) == 0


def test_many_views_of_one_image_release_together(tb, fresh_ns):
    img = tb.Image(H, W, "rgb8")
    img.to_numpy()[:] = _known(2)
    views = [img.to_numpy(), img.to_torch(), img.to_numpy()[1:], img.as_tensor(), img.as_tensor().to_torch()]
    del img
    _churn(tb, {views[3].slot[:2]}, rounds=64)
    np.testing.assert_array_equal(views[1].numpy(), _known(2))
    assert _used(tb) == 1
    views.pop(1)
    views.pop(0)
    assert _used(tb) == 1
    del views
    assert _used(tb) == 0


def test_received_payload_views_outlive_payload_and_topic(tb, fresh_ns):
    t = tb.Topic("life", tb.Image, depth=2)
    t.recv()
    img = tb.Image(H, W, "rgb8")
    img.to_numpy()[:] = _known(3)
    t.send(img)
    held = {img.slot[:2]}
    del img
    r = t.recv()
    tt, a = r.to_torch(), r.to_numpy()
    del r, t  # the ring's hold goes with the topic
    gc.collect()
    assert _used(tb) == 1
    _churn(tb, held)
    t2 = tb.Topic("life2", depth=2)
    for i in range(5):
        im = tb.Image(H, W, "rgb8")
        assert im.slot[:2] not in held
        im.to_numpy()[:] = i
        t2.send(im)
    del t2, im
    np.testing.assert_array_equal(tt.numpy(), _known(3))
    np.testing.assert_array_equal(a, _known(3))
    del tt
    assert _used(tb) == 1
    del a
    assert _used(tb) == 0


def test_everything_released_after_mixed_use(tb, fresh_ns):
    import torch

    keep = []
    for i in range(20):
        p = [tb.Image(H, W, "rgb8"), tb.DepthImage(8, 8), tb.PointCloud(100), tb.Tensor((10, 10), "int64")][i % 4]
        keep += [p.to_numpy(), p.to_torch(), torch.from_dlpack(p)]
        if i % 2:
            p.freeze()
            keep.append(p.as_tensor())
    del p
    assert _used(tb) == 20
    del keep
    assert _used(tb) == 0


@pytest.mark.multiprocess
def test_killed_subscriber_loses_its_holds_to_reap(tb, fresh_ns):
    import torch  # noqa: F401

    t = tb.Topic("kill.cam", tb.Image, depth=4)
    child = Child(HOLDER, "kill.cam", 3, namespace=fresh_ns)
    try:
        child.expect("ready")
        sent = []
        for i in range(3):
            img = tb.Image(H, W, "rgb8")
            img.to_numpy()[:] = _known(i)
            t.send(img)
            sent.append(img)
        child.expect("holding")
        who = f"pid {child.pid} "
        held = sum(n for p in tb.pool_stats()["pools"] for k, n in p["holders"].items() if k.startswith(who))
        assert held == 4, f"child holds 3 received frames and 1 loaned image: {tb.pool_stats()['pools']}"
        child.kill()  # SIGKILL
        r = tb.reap()
        assert r["processes"] >= 1 and r["slots_freed"] >= 1
        s = tb.pool_stats()
        assert not any(k.startswith(who) for p in s["pools"] for k in p["holders"]), s["pools"]
        assert not any(p["pid"] == child.pid and p["alive"] for p in s["participants"])
        for i, img in enumerate(sent):  # our frames are intact
            np.testing.assert_array_equal(img.to_numpy(), _known(i))
    finally:
        if child.proc.poll() is None:
            child.kill()
    del sent, img
    # Only the ring's entries remain: all 3 if the child had not read them before its death,
    # down to the newest alone if it had (entries every live subscriber read are released).
    pools = tb.pool_stats()["pools"]
    assert all(k == "topic kill.cam" for p in pools for k in p["holders"]), pools
    assert 1 <= _used(tb) <= 3, pools
    del t
    assert _used(tb) == 0


@pytest.mark.multiprocess
def test_killed_publisher_mid_loan_frees_its_slot(tb, fresh_ns):
    script = "img = tb.Image(64, 64, 'rgb8')\nimg.to_numpy()[:] = 1\nt = img.to_torch()\nprint('holding', flush=True)\nimport time\ntime.sleep(600)\n"
    child = Child(script, namespace=fresh_ns)
    try:
        child.expect("holding")
        assert _used(tb) == 1
        child.kill()  # SIGKILL
        assert tb.reap()["slots_freed"] == 1
        assert _used(tb) == 0
        assert tb.reap() == {"processes": 0, "slots_freed": 0}
    finally:
        if child.proc.poll() is None:
            child.kill()
