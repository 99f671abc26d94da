"""Topics across hosts over Zenoh.

    >>> import tensorbus as tb
    >>> with tb.Bridge(listen=["tcp/0.0.0.0:7447"], export=["camera.*"], import_=["cmd_vel"]) as b:
    ...     run_the_robot()                      # camera frames go out, commands come in
    ...     b.report()["exported"]["camera.rgb"]  # messages, bytes, lost, dropped, misses

The other host runs ``tb.Bridge(connect=["tcp/ROBOT:7447"], import_=["camera.*"], export=["cmd_vel"])``
or ``tensorbus bridge --connect tcp/ROBOT:7447 --import 'camera.*' --export cmd_vel``. Frames
arrive in slots loaned on the receiving host: subscribers there use the ordinary API.

Any Zenoh client can take part: samples are keyed ``tensorbus/<scope>/<topic>``, the payload is the
message bytes and the attachment a small header (``docs/bridge.md``). :func:`header` and :func:`parse`
build and read that header in plain Python (``struct``), for clients such as ``eclipse-zenoh``.
"""

import os
import struct
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from . import _native

__all__ = ["Bridge", "header", "parse", "key", "FORMS", "COMPRESSIONS"]

#: The attachment's fixed part (see docs/bridge.md): magic, form, kind, dtype, ndim, aux,
#: compression, policy, depth, timestamp_ns, sequence, bridge_seq, raw_len, type_hash, msg_size,
#: reserved, origin.
_FIXED = struct.Struct("<4sBBBBHBBIQQQQQII16s")
MAGIC = b"TBZ1"
FORMS = {"payload": 1, "pod": 2, "dict": 3}
COMPRESSIONS = {"none": 0, "lz4": 1, "zstd": 2}


def key(topic: str, scope: str = "default") -> str:
    """The Zenoh key expression of ``topic``: ``tensorbus/<scope>/<topic>``."""
    return f"tensorbus/{scope}/{topic}"


def header(form: str, raw_len: int, *, kind: int = 0, dtype: int = 0, shape: Sequence[int] = (), aux: int = 0,
           timestamp_ns: int = 0, sequence: int = 0, bridge_seq: int = 0, type_name: str = "", type_hash: int = 0,
           msg_size: int = 0, frame_id: str = "", compression: str = "none", reliable: bool = False, depth: int = 0,
           origin: bytes = bytes(16)) -> bytes:
    """The attachment of one message. ``form``: "payload" (``kind``/``dtype``/``shape``/``aux`` as in a
    descriptor: kind 2 image, 3 depth, 4 points, 5 tensor), "pod" (``type_name``/``type_hash``/``msg_size``
    of the topic type) or "dict" (MessagePack bytes). ``raw_len``: the message bytes before compression."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {sorted(FORMS)}, not {form!r}")
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {sorted(COMPRESSIONS)}, not {compression!r}")
    name, frame = type_name.encode(), frame_id.encode()
    if len(name) > 64 or len(frame) > 31 or len(origin) != 16:
        raise ValueError("type_name is at most 64 bytes, frame_id 31, origin exactly 16")
    fixed = _FIXED.pack(MAGIC, FORMS[form], kind, dtype, len(shape), aux, COMPRESSIONS[compression], int(reliable), depth,
                        timestamp_ns, sequence, bridge_seq, raw_len, type_hash, msg_size, 0, origin)
    return fixed + b"".join(struct.pack("<Q", d) for d in shape) + bytes([len(name)]) + name + bytes([len(frame)]) + frame


def parse(attachment: bytes) -> Dict[str, Any]:
    """Read an attachment back into a dict (the keyword names of :func:`header`); ``ValueError`` if
    it is not one."""
    a = bytes(attachment)
    if len(a) < _FIXED.size:
        raise ValueError(f"attachment of {len(a)} bytes is too short")
    (magic, form, kind, dtype, ndim, aux, comp, reliable, depth, ts, seq, bseq, raw_len, thash, msize, _r,
     origin) = _FIXED.unpack_from(a)
    if magic != MAGIC:
        raise ValueError(f"bad magic {magic!r}")
    forms = {v: k for k, v in FORMS.items()}
    comps = {v: k for k, v in COMPRESSIONS.items()}
    if form not in forms or comp not in comps or ndim > 8:
        raise ValueError("bad form, compression or ndim")
    at = _FIXED.size
    shape = list(struct.unpack_from(f"<{ndim}Q", a, at))
    at += 8 * ndim
    strings = []
    for _ in range(2):
        if at >= len(a) or at + 1 + a[at] > len(a):
            raise ValueError("attachment is too short")
        strings.append(a[at + 1:at + 1 + a[at]].decode())
        at += 1 + a[at]
    return {"form": forms[form], "kind": kind, "dtype": dtype, "shape": shape, "aux": aux, "compression": comps[comp],
            "reliable": bool(reliable), "depth": depth, "timestamp_ns": ts, "sequence": seq, "bridge_seq": bseq,
            "raw_len": raw_len, "type_hash": thash, "msg_size": msize, "origin": origin, "type_name": strings[0],
            "frame_id": strings[1]}


def _globs(v: Union[None, str, Sequence[str]]) -> Optional[List[str]]:
    if v is None:
        return None
    return [p.strip() for p in v.split(",") if p.strip()] if isinstance(v, str) else list(v)


class Bridge:
    """Forward topics of the current namespace to and from other hosts over Zenoh until ``stop()``
    (or the ``with`` block ends).

    ``connect`` / ``listen``: Zenoh endpoints (``"tcp/HOST:7447"``); ``topics``: names or globs forwarded
    both ways, ``export`` only out, ``import_`` only in; ``scope``: the key expressions' second chunk
    (default: the namespace's name; both sides must agree); ``compression``: ``{"camera.*": "lz4"}``
    ("lz4", "zstd" or "none"); ``config``: a Zenoh JSON5 configuration file (the endpoints are applied
    on top); ``mode``: "peer" or "client" (through a router); ``multicast``: Zenoh's multicast scouting
    (off by default); ``zenoh_shm``: Zenoh shared memory between two bridges on one host (off by
    default); ``queue``: frames kept per imported latest-policy topic while this side is busy (the
    newest; older ones are dropped and counted; default: the topic's depth); ``block_timeout``: how
    long a reliable topic waits for room before a message is dropped and counted.

    ``ros2=True``: ROS 2 mode (rmw_zenoh's keys, attachment, liveliness tokens and CDR; ``docs/ros2.md``):
    ``export``/``import_`` entries are then ``"topic[=/ros/name[:pkg/msg/Type]]"`` (``"camera.rgb=/camera/image_raw"``,
    ``"cmd_vel=/cmd_vel:geometry_msgs/msg/Twist"``); ``domain``: ``ROS_DOMAIN_ID``; ``humble``: Humble's
    ``TypeHashNotSupported`` keys; ``node``: the node name in the ROS graph; ``ros2_map``: a TOML mapping file.

    ``ConnectionError`` if the Zenoh session cannot be opened (an endpoint in use, say),
    ``ValueError`` for bad arguments (a ROS 2 type without a mapping among them).
    """

    def __init__(self, connect: Union[None, str, Sequence[str]] = None, listen: Union[None, str, Sequence[str]] = None,
                 topics: Union[None, str, Sequence[str]] = None, export: Union[None, str, Sequence[str]] = None,
                 import_: Union[None, str, Sequence[str]] = None, scope: Optional[str] = None,
                 compression: Optional[Dict[str, str]] = None, config: Union[None, str, "os.PathLike[str]"] = None,
                 mode: str = "peer", multicast: bool = False, zenoh_shm: bool = False, queue: Optional[int] = None,
                 block_timeout: float = 1.0,
                 ros2: bool = False, domain: int = 0, humble: bool = False, node: Optional[str] = None,
                 ros2_map: Union[None, str, "os.PathLike[str]"] = None):
        both = _globs(topics) or []
        out = (_globs(export) or []) + both
        inn = (_globs(import_) or []) + both
        map_text = None
        if ros2_map is not None:
            with open(ros2_map, encoding="utf-8") as f:
                map_text = f.read()
        if not out and not inn and map_text is None:
            raise ValueError("nothing to bridge: give topics (both ways), export or import_")
        comp: List[Tuple[str, str]] = list((compression or {}).items())
        self._b = _native._Bridge(_globs(connect), _globs(listen), out, inn, scope, comp,
                                  os.fspath(config) if config is not None else None, mode, multicast, zenoh_shm, queue, block_timeout,
                                  ros2, domain, humble, node, map_text)
        self._final: Optional[dict] = None
        self._zid: str = self._b.zid

    @property
    def zid(self) -> str:
        """This bridge's Zenoh id."""
        return self._zid

    def peers(self) -> List[str]:
        """Zenoh ids of the peers and routers connected now."""
        return [] if self._final is not None else self._b.peers()

    def report(self) -> dict:
        """``{"zid", "scope", "peers", "malformed", "exported": {topic: counts}, "imported": {topic: counts}}``;
        counts are ``messages``, ``bytes``, ``lost`` (gaps in the sender's numbering), ``dropped`` (given up
        here), ``misses`` (overwritten in the local ring before the bridge read them) and ``remote``."""
        return self._final if self._final is not None else self._b.report()

    def stop(self) -> dict:
        """Stop forwarding, close the Zenoh session; the final report (again: the same report)."""
        if self._final is None:
            self._final = self._b.stop()
        return self._final

    def __enter__(self) -> "Bridge":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
