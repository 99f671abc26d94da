"""Fixed-size POD messages, declared in Python with the same layout as Rust's ``pod_message!``.

A message class lists typed fields; it travels as its raw little-endian bytes (inline in the
topic's ring entry when it is at most 104 bytes, else through a pool slot) and can be read from
Rust with a matching ``#[repr(C)]`` struct: the topic carries the type name, size and layout hash
(computed exactly as Rust's ``tensorbus::message::type_hash``), so a mismatch is refused.

Example:
    >>> import tensorbus as tb
    >>> @tb.message
    ... class WheelSpeeds:
    ...     timestamp_ns: tb.u64
    ...     left: tb.f32
    ...     right: tb.f32
    >>> tb.Topic("wheels", WheelSpeeds).send(WheelSpeeds(left=1.0, right=1.2))
"""

import struct
import sys
import time
from typing import Any

from . import _native

__all__ = [
    "message", "array", "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "f32", "f64",
    "CmdVel", "Twist", "Pose2D", "Imu", "Detection", "Heartbeat",
]


class _Scalar:
    __slots__ = ("name", "code", "size", "default")

    def __init__(self, name: str, code: str, size: int, default: Any):
        self.name, self.code, self.size, self.default = name, code, size, default

    def __repr__(self) -> str:
        return f"tb.{self.name}"


u8 = _Scalar("u8", "B", 1, 0)
u16 = _Scalar("u16", "H", 2, 0)
u32 = _Scalar("u32", "I", 4, 0)
u64 = _Scalar("u64", "Q", 8, 0)
i8 = _Scalar("i8", "b", 1, 0)
i16 = _Scalar("i16", "h", 2, 0)
i32 = _Scalar("i32", "i", 4, 0)
i64 = _Scalar("i64", "q", 8, 0)
f32 = _Scalar("f32", "f", 4, 0.0)
f64 = _Scalar("f64", "d", 8, 0.0)
_PY_DEFAULTS = {float: f64, int: i64}


class _Array:
    __slots__ = ("elem", "n")

    def __init__(self, elem: _Scalar, n: int):
        if not isinstance(elem, _Scalar) or not isinstance(n, int) or n <= 0:
            raise TypeError("array(elem, n) takes a scalar field type and a positive length")
        self.elem, self.n = elem, n

    @property
    def name(self) -> str:
        return f"[{self.elem.name}; {self.n}]"

    @property
    def size(self) -> int:
        return self.elem.size * self.n

    def __repr__(self) -> str:
        return f"tb.array({self.elem!r}, {self.n})"


def array(elem: _Scalar, n: int) -> _Array:
    """A fixed-length array field, e.g. ``array(f64, 3)`` (Rust ``[f64; 3]``)."""
    return _Array(elem, n)


def _snake(name: str) -> str:
    """``CmdVel`` → ``cmd_vel``, ``IMUData`` → ``imu_data``, ``Pose2D`` → ``pose2d``: exactly
    Rust's ``tensorbus::message::snake_case``, so both languages open the same default topic."""
    out = []
    for i, c in enumerate(name):
        if "A" <= c <= "Z":
            prev = name[i - 1] if i else ""
            nxt = name[i + 1] if i + 1 < len(name) else ""
            if ("a" <= prev <= "z") or ("A" <= prev <= "Z" and "a" <= nxt <= "z"):
                out.append("_")
            out.append(c.lower())
        else:
            out.append(c)
    return "".join(out)


#: Every message class declared in this process, by (type name, layout hash): how a recording's
#: POD messages become objects again (``tb.read_mcap``) and how the recorder learns their layout.
_REGISTRY: dict = {}


def _layout(type_name, ann, module):
    """Fields, size, offsets, struct codes and spec string of a declaration (``ann``: the class's
    annotations): declaration order, C alignment, no padding allowed."""
    fields, offset, offsets, codes, spec = [], 0, [], "<", ""
    for fname, ftype in ann.items():
        if isinstance(ftype, str):  # `from __future__ import annotations` in the caller
            ftype = eval(ftype, vars(sys.modules.get(module, sys)), {"tb": sys.modules["tensorbus"]})  # noqa: S307
        ftype = _PY_DEFAULTS.get(ftype, ftype)
        if not isinstance(ftype, (_Scalar, _Array)):
            raise TypeError(f"{type_name}.{fname}: field type must be tb.u8..tb.f64, float, int or tb.array(...), not {ftype!r}")
        align = ftype.elem.size if isinstance(ftype, _Array) else ftype.size
        if offset % align:
            raise TypeError(f"{type_name}.{fname} at offset {offset} needs {align - offset % align} padding bytes: reorder the fields or add an explicit pad field")
        offsets.append(offset)
        offset += ftype.size
        spec += f"{fname}:{ftype.name};"
        codes += f"{ftype.n}{ftype.elem.code}" if isinstance(ftype, _Array) else ftype.code
        fields.append((fname, ftype))
    if not fields:
        raise TypeError(f"{type_name} has no fields")
    align = max((f.elem.size if isinstance(f, _Array) else f.size) for _, f in fields)
    if offset % align:
        raise TypeError(f"{type_name}: size {offset} is not a multiple of its alignment {align}: add a trailing pad field")
    return fields, offset, offsets, codes, spec


def _methods(type_name, names):
    """``__repr__`` and ``__eq__`` of a message class with fields ``names``."""

    def __repr__(self):
        return f"{type_name}(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in names) + ")"

    def __eq__(self, other):
        return type(other) is type(self) and all(getattr(self, f) == getattr(other, f) for f in names)

    return __repr__, __eq__


def message(cls=None, *, name=None):
    """Class decorator: turn annotated fields into a fixed-size POD message.

    Fields are laid out in declaration order with C alignment and must need no padding
    (reorder them, or add explicit ``_pad: tb.u32`` fields). ``float`` means ``f64`` and ``int``
    means ``i64``. A ``timestamp_ns`` field becomes the last keyword argument of the constructor
    (``CmdVel(linear, angular)``), and a timestamp left at 0 is stamped with the send time.

    Raises:
        TypeError: an unsupported field type, or a layout that would need padding.
    """

    def build(cls):
        type_name = name or cls.__name__
        ann = cls.__dict__.get("__annotations__", {})
        fields, offset, offsets, codes, spec = _layout(type_name, ann, cls.__module__)
        st = struct.Struct(codes)
        assert st.size == offset
        names = [f for f, _ in fields]

        # Generated functions: fast paths with no per-field loops at run time.
        ordered = [ft for ft in fields if ft[0] != "timestamp_ns"] + [ft for ft in fields if ft[0] == "timestamp_ns"]
        # Defaults: `gain: tb.f32 = 1.0` in the class body (dataclass-style), else zeros.
        given = {f: cls.__dict__[f] for f, _ in fields if f in cls.__dict__}
        defaults = {f: given.get(f, tuple([t.elem.default] * t.n) if isinstance(t, _Array) else t.default) for f, t in fields}
        args = ", ".join(f"{f}=_defaults[{f!r}]" for f, _ in ordered)
        body = "\n".join(f"    self.{f} = {f}" for f in names)
        flat = ", ".join(f"*self.{f}" if isinstance(t, _Array) else ("self.timestamp_ns or _now()" if f == "timestamp_ns" else f"self.{f}") for f, t in fields)
        ns: dict[str, Any] = {"_pack": st.pack, "_unpack": st.unpack, "_now": time.time_ns, "_defaults": defaults}
        src = f"def __init__(self, {args}):\n{body}\n"
        src += f"def _tb_pack(self):\n    return _pack({flat})\n"
        # unpack: slice arrays back into tuples
        i, parts = 0, []
        for _name, t in fields:
            if isinstance(t, _Array):
                parts.append(f"v[{i}:{i + t.n}]")
                i += t.n
            else:
                parts.append(f"v[{i}]")
                i += 1
        src += "def _tb_unpack(cls, b):\n    v = _unpack(b)\n    o = cls.__new__(cls)\n"
        src += "".join(f"    o.{f} = {p}\n" for f, p in zip(names, parts))
        src += "    return o\n"
        exec(src, ns)  # noqa: S102 - generated from validated identifiers only

        __repr__, __eq__ = _methods(type_name, names)
        attrs = {
            "__slots__": tuple(names),
            "__init__": ns["__init__"],
            "__repr__": __repr__,
            "__eq__": __eq__,
            "__hash__": None,
            "__doc__": cls.__doc__,
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__annotations__": ann,
            "_tb_pack": ns["_tb_pack"],
            "_tb_unpack": classmethod(ns["_tb_unpack"]),
            "_tb_fields": tuple(fields),
            "_tb_spec": spec,
            "_tb_type_name": type_name,
            "_tb_size": offset,
            "_tb_hash": _native.pod_type_hash(spec, offset, offsets),
            "topic_name": _snake(type_name),
        }
        for k, v in cls.__dict__.items():
            if k not in attrs and k not in names and k not in ("__dict__", "__weakref__") and not isinstance(v, (_Scalar, _Array)):
                attrs[k] = v
        made = type(cls.__name__, (), attrs)
        _REGISTRY[(type_name, attrs["_tb_hash"])] = made
        return made

    return build if cls is None else build(cls)


# --- Standard messages (same layout as src/msgs.rs) -------------------------------------------
#
# Native classes (py/src/stdmsg.rs): typed fields, no Python objects per field on a typed topic.
# Their layout is declared here as for any message, checked against the native size, and the
# class gets the same attributes and methods a `@tb.message` class has.


def _native_message(cls, ann):
    """Give native class ``cls`` the attributes and methods of a ``@tb.message`` class whose
    annotations are ``ann`` (and check that the native size matches the declared layout)."""
    type_name = cls.__name__
    fields, size, offsets, _codes, spec = _layout(type_name, ann, __name__)
    if size != len(cls()._tb_pack()):
        raise AssertionError(f"{type_name}: declared size {size} differs from the native class's")
    names = [f for f, _ in fields]
    ctor_names = [f for f in names if f != "timestamp_ns"] + [f for f in names if f == "timestamp_ns"]
    __repr__, __eq__ = _methods(type_name, names)

    def __reduce__(self):
        return (cls, tuple(getattr(self, f) for f in ctor_names))

    attrs = {
        "__repr__": __repr__,
        "__eq__": __eq__,
        "__hash__": None,
        "__reduce__": __reduce__,
        "__annotations__": ann,
        "_tb_fields": tuple(fields),
        "_tb_spec": spec,
        "_tb_type_name": type_name,
        "_tb_size": size,
        "_tb_hash": _native.pod_type_hash(spec, size, offsets),
        "topic_name": _snake(type_name),
    }
    for k, v in attrs.items():
        setattr(cls, k, v)
    _REGISTRY[(type_name, attrs["_tb_hash"])] = cls
    return cls


CmdVel = _native_message(_native.CmdVel, {"timestamp_ns": u64, "linear": f32, "angular": f32})
Twist = _native_message(_native.Twist, {"timestamp_ns": u64, "linear": array(f64, 3), "angular": array(f64, 3)})
Pose2D = _native_message(_native.Pose2D, {"timestamp_ns": u64, "x": f64, "y": f64, "theta": f64})
Imu = _native_message(_native.Imu, {"timestamp_ns": u64, "orientation": array(f64, 4), "angular_velocity": array(f64, 3), "linear_acceleration": array(f64, 3)})
Detection = _native_message(_native.Detection, {"timestamp_ns": u64, "class_id": u32, "score": f32, "x": f32, "y": f32, "w": f32, "h": f32})
Heartbeat = _native_message(_native.Heartbeat, {"timestamp_ns": u64, "seq": u64, "uptime_s": f64, "pid": u32, "state": u32})
