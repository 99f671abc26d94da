"""POD messages from Python: standard messages through typed topics (inline and slot-borne),
`@tb.message` declarations (arrays, padding, unsupported types, postponed annotations) and the
topic type checks (python: tensorbus/messages.py, binding: py/src/topic.rs, py/src/message.rs)."""

import struct
import sys
import time
import types

import pytest


def f32(x):
    """`x` rounded to float32, as a f32 field stores it."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _standard(tb):
    """One instance of each standard message with distinctive values, and its size."""
    return [
        (tb.CmdVel(0.1, -0.3, timestamp_ns=11), 16),
        (tb.Twist(linear=(1.5, -2.25, 3.1), angular=(0.1, 0.2, -0.3), timestamp_ns=12), 56),
        (tb.Pose2D(1.0 / 3.0, -2.5, 3.14159, timestamp_ns=13), 32),
        (tb.Imu(orientation=(0.0, 0.0, 0.7071, 0.7071), angular_velocity=(0.01, -0.02, 0.03), linear_acceleration=(0.0, 0.0, 9.81), timestamp_ns=14), 88),
        (tb.Detection(class_id=7, score=0.9, x=10.5, y=20.25, w=33.3, h=44.4, timestamp_ns=15), 32),
        (tb.Heartbeat(seq=2**40 + 3, uptime_s=12.5, pid=4321, state=2, timestamp_ns=16), 32),
    ]


def _expected(msg):
    """`msg` as it reads back: f32 fields rounded to float32."""
    out = {}
    for name, ftype in type(msg)._tb_fields:
        v = getattr(msg, name)
        if ftype.name == "f32":
            v = f32(v)
        elif getattr(ftype, "elem", None) is not None:
            v = tuple(f32(x) if ftype.elem.name == "f32" else x for x in v)
        out[name] = v
    return out


@pytest.mark.parametrize("i", range(6), ids=["CmdVel", "Twist", "Pose2D", "Imu", "Detection", "Heartbeat"])
def test_standard_message_round_trips_through_a_topic(tb, fresh_ns, i):
    msg, size = _standard(tb)[i]
    cls = type(msg)
    assert cls._tb_size == size
    t = tb.Topic(cls.topic_name, cls)
    assert t.recv() is None
    t.send(msg)
    r = t.recv()
    assert type(r) is cls
    got = {n: getattr(r, n) for n, _ in cls._tb_fields}
    assert got == _expected(msg)
    assert t.recv() is None


def test_f32_fields_are_rounded_f64_fields_exact(tb, fresh_ns):
    t = tb.Topic("cmd_vel", tb.CmdVel)
    t.recv()
    t.send(tb.CmdVel(0.1, 0.2))
    r = t.recv()
    assert r.linear == f32(0.1) and r.linear != 0.1
    p = tb.Topic("pose", tb.Pose2D)
    p.recv()
    p.send(tb.Pose2D(0.1, 0.2, 0.3))
    assert (p.recv().x, p.recv() is None) == (0.1, True)


def test_inline_messages_hold_no_slot_larger_ones_do(tb, fresh_ns):
    """≤ 104 bytes travel in the ring entry (Pose2D 32 B, Twist 56 B, Imu 88 B); larger go through a slot."""
    small = tb.Topic("pose", tb.Pose2D)
    small.recv()
    small.send(tb.Pose2D(1.0, 2.0, 3.0))
    tw = tb.Topic("twist", tb.Twist)
    tw.recv()
    tw.send(tb.Twist(linear=(1.0, 2.0, 3.0), angular=(4.0, 5.0, 6.0)))
    imu = tb.Topic("imu", tb.Imu)
    imu.recv()
    imu.send(tb.Imu(orientation=(0.0, 0.0, 0.0, 1.0), linear_acceleration=(0.5, 0.25, 9.81)))
    assert tb.pool_stats()["used_slots"] == 0

    @tb.message
    class Big:
        timestamp_ns: tb.u64
        values: tb.array(tb.f64, 13)  # 112 bytes

    big = tb.Topic("big", Big)
    big.recv()
    big.send(Big(values=tuple(float(i) for i in range(13))))
    assert tb.pool_stats()["used_slots"] == 1  # held by the ring entry
    assert tw.recv().angular == (4.0, 5.0, 6.0)
    assert imu.recv().linear_acceleration == (0.5, 0.25, 9.81)
    assert big.recv().values == tuple(float(i) for i in range(13))


def test_cmdvel_positional_order_is_linear_then_angular(tb):
    m = tb.CmdVel(1.0, 0.5)
    assert (m.linear, m.angular, m.timestamp_ns) == (1.0, 0.5, 0)
    assert tb.Pose2D(1.0, 2.0, 3.0).theta == 3.0


def test_timestamp_zero_is_stamped_at_send_and_others_kept(tb, fresh_ns):
    t = tb.Topic("cmd_vel", tb.CmdVel)
    t.recv()
    before = time.time_ns()
    t.send(tb.CmdVel(1.0, 0.5))
    after = time.time_ns()
    assert before <= t.recv().timestamp_ns <= after
    t.send(tb.CmdVel(1.0, 0.5, timestamp_ns=123))
    assert t.recv().timestamp_ns == 123


def test_acronym_topic_name_matches_rust(tb):
    assert tb.message(type("IMUData", (), {"__annotations__": {"x": tb.f64}})).topic_name == "imu_data"


@pytest.mark.parametrize("cls,want", [("CmdVel", "cmd_vel"), ("Twist", "twist"), ("Imu", "imu"), ("Detection", "detection"), ("Heartbeat", "heartbeat")])
def test_default_topic_name_is_snake_case_of_the_type(tb, cls, want):
    assert getattr(tb, cls).topic_name == want


@pytest.mark.parametrize("name,want", [("Pose2D", "pose2d"), ("Vec3F", "vec3f")])
def test_default_topic_name_matches_rust_snake_case(tb, name, want):
    # Expected values from src/message.rs (snake_case and its unit test).
    cls = tb.message(type(name, (), {"__annotations__": {"x": tb.f64}}))
    assert cls.topic_name == want


def test_custom_message_with_arrays_round_trips(tb, fresh_ns):
    @tb.message
    class WheelState:
        timestamp_ns: tb.u64
        speeds: tb.array(tb.f32, 4)
        ticks: tb.array(tb.i32, 4)
        flags: tb.array(tb.u8, 8)
        temperature: float  # f64

    assert WheelState._tb_size == 8 + 16 + 16 + 8 + 8
    assert WheelState.topic_name == "wheel_state"
    t = tb.Topic("wheels", WheelState)
    t.recv()
    m = WheelState(speeds=(0.1, 0.2, 0.3, 0.4), ticks=(-1, 2, -3, 2**31 - 1), flags=(1, 2, 3, 4, 5, 6, 7, 255), temperature=36.6, timestamp_ns=5)
    t.send(m)
    r = t.recv()
    assert r.speeds == tuple(f32(x) for x in m.speeds)
    assert (r.ticks, r.flags, r.temperature, r.timestamp_ns) == (m.ticks, m.flags, 36.6, 5)
    assert r == WheelState(speeds=r.speeds, ticks=m.ticks, flags=m.flags, temperature=36.6, timestamp_ns=5)


def test_custom_message_without_timestamp_and_int_default(tb, fresh_ns):
    @tb.message
    class Counter:
        n: int  # i64

    t = tb.Topic("counter", Counter)
    t.recv()
    t.send(Counter(-(2**63)))
    assert t.recv().n == -(2**63)


def test_out_of_range_field_value_raises_not_wraps(tb, fresh_ns):
    t = tb.Topic("det", tb.Detection)
    with pytest.raises((struct.error, OverflowError, ValueError, TypeError)):
        t.send(tb.Detection(class_id=-1))


@pytest.mark.parametrize("fields", [
    {"a": "tb.u8", "b": "tb.u32"},          # b at offset 1 needs 3 bytes of padding
    {"a": "tb.u32", "b": "tb.f64"},         # b at offset 4
    {"a": "tb.f64", "b": "tb.u32"},         # size 12, alignment 8: trailing padding
    {"a": "tb.u16", "b": "tb.array(tb.f32, 2)"},
])
def test_layout_needing_padding_raises_type_error(tb, fields):
    src = "@tb.message\nclass Padded:\n" + "".join(f"    {k}: {v}\n" for k, v in fields.items())
    with pytest.raises(TypeError, match="pad"):
        exec(src, {"tb": tb})


def test_explicit_pad_field_makes_it_valid(tb):
    @tb.message
    class Ok:
        a: tb.u8
        _pad: tb.array(tb.u8, 3)
        b: tb.u32

    assert Ok._tb_size == 8


@pytest.mark.parametrize("ann", ["str", "bool", "list", "tb.array(tb.f32, 0)", "tb.array(float, 2)", "'str'", "None"])
def test_unsupported_field_type_raises_type_error(tb, ann):
    with pytest.raises(TypeError):
        exec(f"@tb.message\nclass Bad:\n    a: {ann}\n", {"tb": tb})


def test_message_without_fields_raises(tb):
    with pytest.raises(TypeError):
        @tb.message
        class Empty:
            pass


FUTURE_MODULE = """
from __future__ import annotations
import tensorbus as tb
from tensorbus import f32, u64, array, f64

@tb.message
class Sample:
    timestamp_ns: u64
    gain: tb.f32
    bias: f32
    vec: array(f64, 2)
    scale: float
"""


def test_postponed_annotations_in_declaring_module_still_work(tb, fresh_ns):
    mod = types.ModuleType("tb_future_msgs")
    sys.modules[mod.__name__] = mod
    try:
        exec(compile(FUTURE_MODULE, "tb_future_msgs.py", "exec"), mod.__dict__)
    finally:
        del sys.modules[mod.__name__]
    Sample = mod.Sample
    assert Sample._tb_size == 8 + 4 + 4 + 16 + 8
    assert Sample._tb_spec == "timestamp_ns:u64;gain:f32;bias:f32;vec:[f64; 2];scale:f64;"
    t = tb.Topic("sample", Sample)
    t.recv()
    t.send(Sample(gain=0.5, bias=0.25, vec=(1.0, 2.0), scale=3.0, timestamp_ns=1))
    r = t.recv()
    assert (r.gain, r.bias, r.vec, r.scale) == (0.5, 0.25, (1.0, 2.0), 3.0)


def test_layout_hash_follows_rust_pod_message_spec(tb):
    """The hash is Rust's `type_hash` over `stringify!`'d fields: the spec strings must match
    what `pod_message!` writes (`[f64; 3]` with a space), and layouts must differ."""
    native = tb._native.pod_type_hash
    assert tb.CmdVel._tb_spec == "timestamp_ns:u64;linear:f32;angular:f32;"
    assert tb.CmdVel._tb_hash == native("timestamp_ns:u64;linear:f32;angular:f32;", 16, [0, 8, 12])
    assert tb.Twist._tb_spec == "timestamp_ns:u64;linear:[f64; 3];angular:[f64; 3];"
    assert tb.Twist._tb_hash == native("timestamp_ns:u64;linear:[f64; 3];angular:[f64; 3];", 56, [0, 8, 32])
    hashes = {c._tb_hash for c in (tb.CmdVel, tb.Twist, tb.Pose2D, tb.Imu, tb.Detection, tb.Heartbeat)}
    assert len(hashes) == 6


# --- type safety ------------------------------------------------------------------------------


def test_opening_a_topic_with_another_type_names_both(tb, fresh_ns):
    tb.Topic("cmd_vel", tb.CmdVel)
    with pytest.raises(tb.TopicTypeError) as e:
        tb.Topic("cmd_vel", tb.Twist)
    assert "CmdVel" in str(e.value) and "Twist" in str(e.value)
    assert isinstance(e.value, TypeError)


def test_same_name_different_layout_is_refused_by_hash(tb, fresh_ns):
    @tb.message(name="CmdVel")
    class CmdVel:  # same name and size as tb.CmdVel, other fields
        timestamp_ns: tb.u64
        forward: tb.f32
        turn: tb.f32

    tb.Topic("cmd_vel", tb.CmdVel)
    with pytest.raises(tb.TopicTypeError):
        tb.Topic("cmd_vel", CmdVel)


def test_sending_another_message_type_raises(tb, fresh_ns):
    t = tb.Topic("cmd_vel", tb.CmdVel)
    with pytest.raises(tb.TopicTypeError) as e:
        t.send(tb.Twist())
    assert "CmdVel" in str(e.value) and "Twist" in str(e.value)
    with pytest.raises(tb.TopicTypeError):
        t.send({"linear": 1.0})
    assert t.sent == 0


def test_sending_a_dict_on_a_payload_topic_raises(tb, fresh_ns):
    t = tb.Topic("cam", tb.Image)
    with pytest.raises(tb.TopicTypeError):
        t.send({"a": 1})
    with pytest.raises(tb.TopicTypeError):
        t.send(tb.CmdVel(1.0, 0.0))


def test_sending_a_message_on_an_untyped_topic_raises(tb, fresh_ns):
    t = tb.Topic("anything")
    with pytest.raises(tb.TopicTypeError):
        t.send(tb.CmdVel(1.0, 0.0))


def test_bad_type_argument_raises(tb, fresh_ns):
    with pytest.raises(tb.TopicTypeError):
        tb.Topic("x", 42)


def test_methods_on_a_message_class_are_kept(tb):
    @tb.message
    class Scalar:
        x: tb.f64

        def norm(self):
            return abs(self.x)

    assert Scalar(-2.0).norm() == 2.0 and Scalar(x=3.0) == Scalar(3.0)


def test_field_defaults_in_class_body_become_constructor_defaults(tb):
    @tb.message
    class Gains:
        timestamp_ns: tb.u64
        gain: tb.f32 = 1.0
        bias: tb.f32 = 0.0

    assert (Gains().gain, Gains(bias=2.0).bias) == (1.0, 2.0)


def test_messages_pickle_copy_and_compare(tb):
    import copy
    import pickle

    m = tb.Imu(orientation=(0.0, 0.0, 0.5, 0.5), linear_acceleration=(0.0, 0.0, 9.81), timestamp_ns=3)
    for got in (pickle.loads(pickle.dumps(m)), copy.copy(m), copy.deepcopy(m)):
        assert type(got) is tb.Imu and got == m and got is not m
    c = copy.copy(m)
    c.timestamp_ns = 4
    assert c != m and m.timestamp_ns == 3
    assert repr(tb.CmdVel(1.0, 0.5, timestamp_ns=2)) == "CmdVel(timestamp_ns=2, linear=1.0, angular=0.5)"


def test_fields_are_read_and_written_in_their_own_slots(tb, fresh_ns):
    """Typed topics read and write a plain message class's `__slots__` directly (the offsets are
    probed once per class): every field of a message whose declaration order differs from the
    slots' sorted order must land in its own slot, both ways."""

    @tb.message
    class Mixed:
        zeta: tb.f64
        alpha: tb.array(tb.i32, 3)
        mid: tb.u16
        beta: tb.u16
        omega: tb.i32
        count: tb.u32

    t = tb.Topic("mixed", Mixed)
    t.recv()
    for k in range(3):
        m = Mixed(zeta=0.5 + k, alpha=(-k, 2, 2**31 - 1), mid=7 + k, beta=65535 - k, omega=-(2**31) + k, count=k)
        t.send(m)
        r = t.recv()
        assert type(r) is Mixed
        assert (r.zeta, r.alpha, r.mid, r.beta, r.omega, r.count) == (m.zeta, m.alpha, m.mid, m.beta, m.omega, k)
        assert r == m


def test_an_unset_field_raises_attribute_error_and_sends_nothing(tb, fresh_ns):
    @tb.message
    class Velocity:
        timestamp_ns: tb.u64
        linear: tb.f32
        angular: tb.f32

    t = tb.Topic("velocity", Velocity)
    t.recv()
    half = Velocity.__new__(Velocity)
    half.linear = 1.0
    with pytest.raises(AttributeError):
        t.send(half)
    assert t.recv() is None and t.sent == 0


def test_standard_messages_are_native_classes_with_the_declared_api(tb, fresh_ns):
    """The six standard messages are native classes (py/src/stdmsg.rs) that behave as declared
    ones: f32 fields keep the float they were given until the send, arrays read back as tuples
    and take any sequence of the right length, a bad value is refused when assigned and changes
    nothing, and `_tb_pack`/`_tb_unpack` give the wire bytes a Rust reader sees."""
    for cls in (tb.CmdVel, tb.Twist, tb.Pose2D, tb.Imu, tb.Detection, tb.Heartbeat):
        assert cls.__module__ == "tensorbus._native" and "__dict__" not in dir(cls())
        assert cls()._tb_pack()[8:] == bytes(cls._tb_size - 8)  # zero fields, stamped time
    m = tb.CmdVel(0.1, angular=-0.3, timestamp_ns=7)
    assert (m.linear, m.angular, m.timestamp_ns) == (0.1, -0.3, 7)
    assert m._tb_pack() == struct.pack("<Qff", 7, 0.1, -0.3)
    back = tb.CmdVel._tb_unpack(struct.pack("<Qff", 9, 1.5, -2.0))
    assert (type(back), back.linear, back.angular, back.timestamp_ns) == (tb.CmdVel, 1.5, -2.0, 9)
    with pytest.raises(tb.InvalidDescriptorError):
        tb.CmdVel._tb_unpack(b"short")
    d = tb.Detection(class_id=3, score=0.5)
    with pytest.raises(OverflowError):
        d.class_id = -1
    with pytest.raises(TypeError):
        d.score = "high"
    with pytest.raises(AttributeError):
        d.speed = 1.0
    assert (d.class_id, d.score) == (3, 0.5)
    tw = tb.Twist(linear=[1, 2, 3])
    assert tw.linear == (1.0, 2.0, 3.0) and tw.angular == (0.0, 0.0, 0.0)
    with pytest.raises(tb.ShapeError):
        tw.linear = (9.0, 9.0)
    with pytest.raises(tb.ShapeError):
        tw.angular = (9.0, 9.0, 9.0, 9.0)
    with pytest.raises(tb.DTypeError):
        tw.linear = (9.0, "x", 9.0)
    with pytest.raises(tb.DTypeError):
        tw.linear = 5.0
    assert tw.linear == (1.0, 2.0, 3.0)
    with pytest.raises(tb.ShapeError):
        tb.Imu(orientation=(0.0, 1.0))
    assert tb.Imu(orientation=(1, 2, 3, 4))._tb_pack()[8:40] == struct.pack("<4d", 1, 2, 3, 4)

    class Tagged(tb.Pose2D):
        pass

    t = Tagged._tb_unpack(struct.pack("<Q3d", 5, 1.0, 2.0, 3.0))
    assert type(t) is Tagged and (t.x, t.y, t.theta, t.timestamp_ns) == (1.0, 2.0, 3.0, 5)


def test_a_class_with_its_own_setattr_is_built_through_it(tb, fresh_ns):
    """A message class that defines `__setattr__` keeps its hook on receive (no direct slot
    writes), and a subclass instance is read through its attributes."""
    seen = []

    @tb.message
    class Watched:
        a: tb.f64
        b: tb.i64

        def __setattr__(self, name, value):
            seen.append(name)
            object.__setattr__(self, name, value)

    t = tb.Topic("watched", Watched)
    t.recv()
    t.send(Watched(1.5, -2))
    seen.clear()
    r = t.recv()
    assert (r.a, r.b) == (1.5, -2) and sorted(seen) == ["a", "b"]

    class Faster(tb.CmdVel):
        @property
        def linear(self):
            return 9.0

        @linear.setter
        def linear(self, value):
            pass

    c = tb.Topic("cmd_vel", tb.CmdVel)
    c.recv()
    c.send(Faster(angular=0.25, timestamp_ns=4))
    got = c.recv()
    assert type(got) is tb.CmdVel and (got.linear, got.angular, got.timestamp_ns) == (9.0, 0.25, 4)
