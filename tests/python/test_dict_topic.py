"""Dict topics (MessagePack): round trips, inline vs slot-borne, NumPy scalars, refused values,
the codec on malformed input, and the latest/reliable policies through tb.Topic
(binding: py/src/message.rs, py/src/topic.rs)."""

import math
import time

import numpy as np
import pytest


@pytest.fixture
def dtopic(tb, fresh_ns):
    t = tb.Topic("status", dict)
    assert t.recv() is None
    return t


def roundtrip(t, v):
    t.send(v)
    r = t.recv()
    assert t.recv() is None
    return r


def test_three_key_dict_round_trips(tb, dtopic):
    d = {"x": 1.5, "y": -2, "name": "robot"}
    assert roundtrip(dtopic, d) == d
    assert tb.pool_stats()["used_slots"] == 0  # small: inline in the descriptor
    assert dtopic.type_name == "dict" or dtopic.type_name  # typed as the dict topic type


def test_nested_values_round_trip(dtopic):
    d = {
        "list": [1, 2.5, "three", None, True, False, [], {}],
        "dict": {"a": {"b": {"c": [b"\x00\xff"]}}},
        "bytes": b"\x00\x01\x02",
        "none": None,
        "t": True,
        "f": False,
        "int": -(2**63),
        "uint": 2**64 - 1,
        "small": -32,
        "float": 1e-300,
        "inf": float("inf"),
        "str": "héllo ✓",
        "empty": "",
        7: "int key",
    }
    r = roundtrip(dtopic, d)
    assert r == d
    assert type(r["t"]) is bool and type(r["int"]) is int and type(r["bytes"]) is bytes
    assert math.isnan(roundtrip(dtopic, {"nan": float("nan")})["nan"])


def test_tuples_arrive_as_lists_and_bytearray_as_bytes(dtopic):
    assert roundtrip(dtopic, {"t": (1, 2), "b": bytearray(b"ab")}) == {"t": [1, 2], "b": b"ab"}


def test_big_dict_goes_through_a_slot(tb, dtopic):
    d = {f"key{i}": "v" * 20 for i in range(20)}
    assert len(tb.packb(d)) > 104
    dtopic.send(d)
    assert tb.pool_stats()["used_slots"] == 1
    assert dtopic.recv() == d
    big = {"blob": bytes(range(256)) * 4096}  # 1 MiB
    assert roundtrip(dtopic, big) == big


def test_too_big_dict_raises_payload_too_large(tb, dtopic):
    with pytest.raises(tb.PayloadTooLargeError):
        dtopic.send({"b": b"x" * (300 << 20)})


def test_numpy_scalars_are_accepted(dtopic):
    d = {"f32": np.float32(1.5), "f64": np.float64(0.1), "i64": np.int64(-3), "u8": np.uint8(255), "b": np.bool_(True)}
    r = roundtrip(dtopic, d)
    assert r == {"f32": 1.5, "f64": 0.1, "i64": -3, "u8": 255, "b": True}
    assert type(r["b"]) is bool and type(r["i64"]) is int


@pytest.mark.parametrize("value", [object(), {1, 2}, frozenset(), 1j, print], ids=["object", "set", "frozenset", "complex", "function"])
def test_unsupported_values_raise_dtype_error(tb, dtopic, value):
    with pytest.raises(tb.DTypeError):
        dtopic.send({"v": value})
    with pytest.raises(TypeError):
        tb.packb({"v": value})
    assert dtopic.sent == 0


@pytest.mark.parametrize("arr", [np.zeros(3), np.array([5])], ids=["size3", "size1"])
def test_numpy_arrays_in_dicts_raise_dtype_error(tb, arr):
    with pytest.raises(tb.DTypeError):
        tb.packb({"a": arr})


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30])
def test_ints_beyond_64_bits_raise(tb, dtopic, value):
    with pytest.raises(tb.DTypeError):
        dtopic.send({"v": value})


def test_tuple_keys_are_refused_at_send_or_round_trip(tb, dtopic):
    try:
        dtopic.send({(1, 2): "x"})
    except tb.DTypeError:
        return
    assert dtopic.recv() in ({(1, 2): "x"}, {"(1, 2)": "x"})


def test_a_malformed_message_does_not_wedge_the_subscriber(tb, dtopic):
    """Whatever fails to decode, the next message still arrives."""
    try:
        dtopic.send({(1, 2): "x"})
    except tb.DTypeError:
        pass
    dtopic.send({"ok": 1})
    got = []
    for _ in range(3):
        try:
            got.append(dtopic.recv())
        except tb.InvalidDescriptorError:
            got.append("error")
    assert {"ok": 1} in got


def test_deep_nesting_raises_value_error_on_encode(tb):
    x = []
    for _ in range(1000):
        x = [x]
    with pytest.raises(ValueError):
        tb.packb(x)
    ok = []
    for _ in range(32):
        ok = [ok]
    assert tb.unpackb(tb.packb(ok)) == ok


def test_dict_topic_refuses_other_types(tb, dtopic):
    with pytest.raises(tb.TopicTypeError):
        tb.Topic("status", tb.CmdVel)
    with pytest.raises(TypeError):  # DTypeError today ("cannot send CmdVel in a dict message")
        dtopic.send(tb.CmdVel(1.0, 0.0))
    img = tb.Image(2, 2, "mono8")
    with pytest.raises(tb.TopicTypeError):
        dtopic.send(img)


def test_untyped_topic_carries_dicts_too(tb, fresh_ns):
    t = tb.Topic("loose")
    t.recv()
    assert roundtrip(t, {"a": [1, 2]}) == {"a": [1, 2]}


# --- the codec --------------------------------------------------------------------------------


@pytest.mark.parametrize("v", [None, True, 0, -1, 127, 128, -33, 2**32, -(2**40), 1.25, "", "x" * 40, "y" * 300, "z" * 70000, b"", b"b" * 300,
                               list(range(20)), {str(i): i for i in range(20)}, {"n": {"m": [None, {"k": b"v"}]}}])
def test_packb_unpackb_round_trip(tb, v):
    b = tb.packb(v)
    assert isinstance(b, bytes)
    assert tb.unpackb(b) == v


def test_packb_is_standard_messagepack(tb):
    assert tb.packb({"a": 1}) == b"\x81\xa1a\x01"
    assert tb.packb([None, True, False]) == b"\x93\xc0\xc3\xc2"
    assert tb.unpackb(b"\xca\x3f\xc0\x00\x00") == 1.5  # float32 from another encoder


@pytest.mark.parametrize("data", [
    b"",
    b"\x81\xa1a",                         # truncated map value
    b"\xa5abc",                           # truncated string
    b"\xc4\x05ab",                        # truncated bin
    b"\xcd\x01",                          # truncated uint16
    b"\xc1",                              # never-used marker
    b"\xd4\x01\x02",                      # ext type
    b"\xdd\xff\xff\xff\xff",              # array of 4G elements, no data
    b"\xdf\xff\xff\xff\xff",              # map of 4G entries
    b"\xdb\xff\xff\xff\xff",              # str of 4 GB
    b"\xa2\xff\xfe",                      # invalid UTF-8
    b"\xc0\xc0",                          # trailing bytes
    b"\x91" * 1000 + b"\xc0",             # 1000 levels of nesting
    b"\x81" * 1000 + b"\xc0",             # 1000 levels of map keys
    b"\x81\x90\x01",                      # unhashable key
], ids=["empty", "trunc-map", "trunc-str", "trunc-bin", "trunc-u16", "c1", "ext", "huge-array", "huge-map", "huge-str",
        "utf8", "trailing", "deep-array", "deep-map", "list-key"])
def test_malformed_msgpack_raises_invalid_descriptor(tb, data):
    with pytest.raises(tb.InvalidDescriptorError) as e:
        tb.unpackb(data)
    assert isinstance(e.value, ValueError)


def test_unpackb_of_truncated_prefixes_never_crashes(tb):
    blob = tb.packb({"a": [1, 2.5, "xyz", b"\x00" * 10, {"b": None}], "c": 2**40})
    for n in range(len(blob)):
        with pytest.raises(tb.InvalidDescriptorError):
            tb.unpackb(blob[:n])


# --- policies ---------------------------------------------------------------------------------


def test_latest_policy_drops_oldest_and_counts_misses(tb, fresh_ns):
    t = tb.Topic("l", dict, depth=2, policy="latest")
    assert t.policy == "latest" and t.depth == 2
    t.recv()
    for i in range(5):
        t.send({"i": i})  # never blocks
    assert [t.recv(), t.recv(), t.recv()] == [{"i": 3}, {"i": 4}, None]
    assert (t.sent, t.received, t.misses) == (5, 2, 3)
    for i in range(5, 8):
        t.send({"i": i})
    assert t.latest() == {"i": 7}
    assert t.recv() is None


def test_reliable_send_times_out_after_about_a_second(tb, fresh_ns):
    t = tb.Topic("r", dict, depth=2, policy="reliable")
    assert t.policy == "reliable"
    t.recv()  # a subscriber that then stops reading
    t.send({"i": 0})
    t.send({"i": 1})
    t0 = time.monotonic()
    with pytest.raises(tb.SendTimeoutError) as e:
        t.send({"i": 2})
    waited = time.monotonic() - t0
    assert 0.5 <= waited <= 5.0
    assert isinstance(e.value, TimeoutError)
    assert [t.recv(), t.recv(), t.recv()] == [{"i": 0}, {"i": 1}, None]
    t.send({"i": 3})  # room again
    assert t.recv() == {"i": 3} and t.misses == 0


def test_reliable_without_subscribers_does_not_block(tb, fresh_ns):
    t = tb.Topic("r0", dict, depth=2, policy="reliable")
    t0 = time.monotonic()
    for i in range(10):
        t.send({"i": i})
    assert time.monotonic() - t0 < 0.5


def test_recv_timeout_waits_then_returns_none(tb, dtopic):
    t0 = time.monotonic()
    assert dtopic.recv(timeout=0.2) is None
    assert 0.15 <= time.monotonic() - t0 <= 3.0


@pytest.mark.parametrize("kw", [{"policy": "fastest"}, {"depth": 0}, {"depth": 10**9}])
def test_bad_topic_config_raises(tb, fresh_ns, kw):
    with pytest.raises(tb.TopicError):
        tb.Topic("bad", dict, **kw)
