"""tb.Topic from Python: zero-copy delivery, policies, type checks, inline bytes, and real
publisher/subscriber processes (binding: py/src/topic.rs)."""

import gc
import time

import numpy as np
import pytest
from _children import PUBLISHER, SUBSCRIBER, Child


def _img(tb, value, h=4, w=4):
    img = tb.Image(h, w, "mono8")
    img.to_numpy()[:] = value
    return img


def test_received_payload_is_the_sent_slot_read_only(tb, fresh_ns):
    t = tb.Topic("cam", tb.Image)
    assert t.recv() is None
    img = _img(tb, 5)
    img.frame_id = "cam0"
    img.timestamp_ns = 42
    seq = t.send(img)
    assert img.readonly
    r = t.recv()
    assert isinstance(r, tb.Image) and r.readonly
    assert (r.slot, r.seq, r.frame_id, r.timestamp_ns, r.encoding) == (img.slot, seq, "cam0", 42, "mono8")
    a = r.to_numpy()
    assert a.ctypes.data == r.data_ptr and not a.flags.writeable
    assert (a == 5).all()
    with pytest.raises(ValueError):
        a[0, 0] = 1
    assert not np.from_dlpack(r).flags.writeable
    with pytest.raises(tb.ReadOnlyError):
        r.frame_id = "x"
    assert (t.sent, t.received, t.misses) == (1, 1, 0)


def test_sent_payload_knows_its_sequence(tb, fresh_ns):
    t = tb.Topic("s")
    img = _img(tb, 1)
    assert t.send(img) == img.seq


@pytest.mark.parametrize("cls,make", [("Image", lambda tb: tb.Image(2, 2)), ("DepthImage", lambda tb: tb.DepthImage(2, 2)), ("PointCloud", lambda tb: tb.PointCloud(3)), ("Tensor", lambda tb: tb.Tensor((2,), "int8"))])
def test_each_payload_class_arrives_as_itself(tb, fresh_ns, cls, make):
    t = tb.Topic("any")
    t.recv()
    p = make(tb)
    t.send(p)
    r = t.recv()
    assert type(r).__name__ == cls and r.data_ptr == p.data_ptr and r.shape == p.shape


def test_sending_freezes_earlier_numpy_views(tb, fresh_ns):
    t = tb.Topic("f")
    img = tb.Image(4, 4, "mono8")
    a = img.to_numpy()
    t.send(img)
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[:] = 0


def test_latest_policy_counts_misses_for_a_slow_reader(tb, fresh_ns):
    t = tb.Topic("lat", depth=4)
    assert t.recv() is None
    for i in range(10):
        t.send(_img(tb, i))
    got = []
    while (r := t.recv()) is not None:
        got.append(int(r.to_numpy()[0, 0]))
    assert got == [6, 7, 8, 9]
    assert (t.sent, t.received, t.misses) == (10, 4, 6)
    del r
    gc.collect()
    assert tb.pool_stats()["used_slots"] == 4, "the ring pins exactly depth frames"


def test_latest_returns_the_newest_and_skips_older(tb, fresh_ns):
    t = tb.Topic("l2", depth=4)
    t.recv()
    for i in range(3):
        t.send(_img(tb, i))
    assert int(t.latest().to_numpy()[0, 0]) == 2
    assert t.recv() is None


def test_reliable_policy_blocks_then_raises_send_timeout(tb, fresh_ns):
    t = tb.Topic("rel", depth=2, policy="reliable")
    assert t.policy == "reliable" and t.depth == 2
    t.recv()
    t.send(_img(tb, 0))
    t.send(_img(tb, 1))
    start = time.monotonic()
    with pytest.raises(tb.SendTimeoutError) as e:
        t.send(_img(tb, 2))
    waited = time.monotonic() - start
    assert isinstance(e.value, TimeoutError)
    assert 0.5 < waited < 10, f"blocked {waited:.2f}s"
    assert [int(t.recv().to_numpy()[0, 0]) for _ in range(2)] == [0, 1]
    assert t.misses == 0
    t.send(_img(tb, 3))  # room again
    assert int(t.recv().to_numpy()[0, 0]) == 3


def test_topic_type_mismatch_names_both(tb, fresh_ns):
    tb.Topic("typed", tb.Image)
    with pytest.raises(tb.TopicTypeError) as e:
        tb.Topic("typed", tb.Tensor)
    assert "Image" in str(e.value) and "Tensor" in str(e.value)
    assert isinstance(e.value, TypeError)


def test_sending_another_payload_class_on_a_typed_topic_raises(tb, fresh_ns):
    t = tb.Topic("imgs", tb.Image)
    d = tb.DepthImage(2, 2)
    with pytest.raises(tb.TopicTypeError, match="DepthImage"):
        t.send(d)
    assert not d.readonly, "a refused send leaves the payload loaned"
    with pytest.raises(tb.TopicTypeError):
        t.send("not bytes")
    assert t.sent == 0


@pytest.mark.parametrize("n", [0, 1, 16, 17, 24, 40, 48, 49, 56, 64, 97, 104])
def test_small_bytes_round_trip(tb, fresh_ns, n):
    t = tb.Topic("b")
    t.recv()
    msg = bytes((i * 37 + 1) % 256 for i in range(n))
    t.send(msg)
    assert t.recv() == msg
    assert tb.pool_stats()["used_slots"] == 0


def test_inline_bytes_with_zeros_at_16_to_24_are_not_corrupted(tb, fresh_ns):
    t = tb.Topic("bz")
    t.recv()
    msg = b"\x01" * 16 + b"\x00" * 8 + b"\x02" * 8
    t.send(msg)
    assert t.recv() == msg


def test_inline_send_returns_the_sequence(tb, fresh_ns):
    t = tb.Topic("bs")
    assert t.send(b"a") == 1
    assert t.send(b"b" * 48) == 2
    assert t.send(b"c" * 104) == 3


def test_bytes_longer_than_104_raise_payload_too_large(tb, fresh_ns):
    t = tb.Topic("big")
    with pytest.raises(tb.PayloadTooLargeError, match="at most 104 bytes"):
        t.send(b"x" * 105)
    assert t.sent == 0


@pytest.mark.parametrize("kwargs", [dict(depth=0), dict(policy="fifo"), dict(name="")])
def test_bad_topic_options_raise_topic_error(tb, fresh_ns, kwargs):
    args = dict(name="opt") | kwargs
    with pytest.raises(tb.TopicError):
        tb.Topic(args.pop("name"), **args)


def test_deleting_the_topic_releases_ring_holds(tb, fresh_ns):
    t = tb.Topic("rel2", depth=3)
    for i in range(3):
        t.send(_img(tb, i))
    gc.collect()
    assert tb.pool_stats()["used_slots"] == 1, "no subscriber: only the newest frame is pinned"
    unread = tb.Topic("rel2", depth=3)
    assert unread.recv() is not None  # subscribes at the newest frame, then reads nothing more
    for i in range(3):
        t.send(_img(tb, i))
    gc.collect()
    assert tb.pool_stats()["used_slots"] == 3, "a subscriber that has not read them pins depth frames"
    del t, unread
    gc.collect()
    assert tb.pool_stats()["used_slots"] == 0


# -- across processes ---------------------------------------------------------------------------


def _pattern(i, h, w):
    return ((np.arange(h * w * 3).reshape(h, w, 3) * 7 + i * 13) % 251).astype(np.uint8)


@pytest.mark.multiprocess
def test_child_publishes_parent_receives_zero_copy(tb, fresh_ns):
    import torch  # noqa: F401  (imported before the exchange: a reliable send waits only 1 s)

    n, h, w = 12, 120, 160
    t = tb.Topic("x.cam", tb.Image, depth=4, policy="reliable")
    assert t.recv() is None
    child = Child(PUBLISHER, "x.cam", n, h, w, namespace=fresh_ns)
    try:
        child.expect("ready")
        child.say("go")
        got = []
        for i in range(n):
            p = t.recv(timeout=10.0)
            assert p is not None, f"frame {i} never came"
            a = p.to_numpy()
            assert (p.frame_id, p.shape, p.readonly) == (f"f{i}", (h, w, 3), True)
            assert a.ctypes.data == p.data_ptr and p.to_torch().data_ptr() == p.data_ptr
            np.testing.assert_array_equal(a, _pattern(i, h, w))
            got.append(p.seq)
        assert got == sorted(got) and len(set(got)) == n
        child.expect("sent")
        assert t.misses == 0
    finally:
        child.finish()


@pytest.mark.multiprocess
def test_parent_publishes_child_receives_zero_copy(tb, fresh_ns):
    n, h, w = 12, 120, 160
    t = tb.Topic("x.back", tb.Image, depth=4, policy="reliable")
    child = Child(SUBSCRIBER, "x.back", n, h, w, namespace=fresh_ns)
    try:
        child.expect("ready")
        for i in range(n):
            img = tb.Image(h, w, "rgb8")
            img.to_numpy()[:] = _pattern(i, h, w)
            img.frame_id = f"f{i}"
            t.send(img)
        assert child.expect("", timeout=30) == "ok"
    finally:
        child.finish()


def test_history_zero_reuses_the_slot_the_readers_dropped(tb, fresh_ns):
    """history=0 keeps no frame for late joiners, so the next from_numpy writes into the slot
    just freed (cache-warm); the default history=1 keeps the newest, so loans alternate."""
    src = np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)
    assert tb.Topic("keep1", tb.Image).history == 1
    t = tb.Topic("keep0", tb.Image, history=0)
    assert t.history == 0

    def publish(topic):
        img = tb.Image.from_numpy(src)
        topic.send(img)
        return img.slot[:2]  # (pool, slot); data_ptr differs between a loan and the sent frame

    slots = [publish(t) for _ in range(4)]
    assert len(set(slots)) == 1, "no subscriber, history 0: every frame reuses one slot"
    keep1 = tb.Topic("keep1", tb.Image)
    slots1 = [publish(keep1) for _ in range(4)]
    assert slots1[0] != slots1[1], "history 1 keeps the newest, so the next loan takes another slot"
    assert keep1.latest().slot[:2] == slots1[-1]

    late = tb.Topic("keep0", tb.Image)
    assert late.recv() is None, "a late joiner of a history-0 topic starts with the next send"
    reader = tb.Topic("keep0", tb.Image)
    assert reader.recv() is None  # subscribes
    late_slot = publish(t)
    r = reader.recv()
    assert r.slot[:2] == late_slot and (r.to_numpy() == src).all()
    assert late.recv().slot[:2] == late_slot
    del r
    gc.collect()
    assert publish(t) == late_slot, "read by both and dropped: the next frame reuses the slot"
    assert reader.recv().slot[:2] == late_slot

    with pytest.raises(tb.TopicError, match="history must be 0"):
        tb.Topic("keep2", tb.Image, history=2)


def test_max_subscribers_sizes_the_subscriber_table(tb, fresh_ns):
    """The default topic takes 64 subscribers and refuses the 65th with the limit in the error;
    one created with max_subscribers=200 delivers to all 200 (each tb.Topic handle subscribes on
    its first recv); a size past 1,024 is refused at creation."""
    small = [tb.Topic("small") for _ in range(65)]
    for t in small[:64]:
        assert t.recv() is None
    with pytest.raises(tb.TopicError, match="limit 64"):
        small[64].recv()
    big = [tb.Topic("big", max_subscribers=200) for _ in range(200)]
    assert big[0].max_subscribers == 200
    for t in big:
        assert t.recv() is None
    big[0].send(b"all of you")
    assert all(t.recv() == b"all of you" for t in big)
    with pytest.raises(tb.TopicError, match="max_subscribers must be 1..=1024"):
        tb.Topic("huge", max_subscribers=1025)
