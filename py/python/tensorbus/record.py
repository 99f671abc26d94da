"""Recordings: MCAP files of tensorbus topics that Foxglove, Rerun, rosbag2 tools and the ``mcap``
libraries open, replays of them (and of rosbag2 MCAP files) into a namespace, and reading them
back as tensorbus objects.

    >>> import tensorbus as tb
    >>> with tb.Recorder("run.mcap", topics=["camera.*", "cmd_vel"]):   # an ordinary subscriber
    ...     run_the_robot()
    >>> tb.record_info("run.mcap")["topics"]                             # counts, rates, misses
    >>> tb.replay("run.mcap", rate=2.0)                                  # publish it again
    >>> for topic, frame in tb.read_mcap("run.mcap"):                    # tb.Image, dicts, messages
    ...     frame.to_numpy()

Encodings: images and depth images as ``sensor_msgs/msg/Image`` and point clouds as
``sensor_msgs/msg/PointCloud2`` (CDR, ``ros2msg`` schemas), tensors as ``tensorbus_msgs/msg/Tensor``
(ours, a ros2msg schema any ROS 2 MCAP reader decodes), POD messages as JSON with a JSON Schema
(the standard ones and every ``@tb.message`` class declared in the recording process; others as
their bytes), dicts as JSON (``dicts="msgpack"`` keeps MessagePack). The same from the command line:
``tensorbus record -o run.mcap``, ``tensorbus record info run.mcap``, ``tensorbus replay run.mcap``.
"""

import os
from typing import Any, Iterator, List, Optional, Tuple, Union

from . import _native
from ._errors import InvalidDescriptorError
from .messages import _REGISTRY

__all__ = ["Recorder", "replay", "record_info", "read_mcap"]

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}


def _split(split: Union[None, int, float, str]) -> Tuple[Optional[int], Optional[float]]:
    """``2 << 30`` or ``"2GiB"`` (bytes), ``"10m"`` / ``"90s"`` / ``"1h"`` (a duration)."""
    if split is None:
        return None, None
    if isinstance(split, int):
        return split, None
    if isinstance(split, float):
        return None, split
    s = split.strip().lower()
    for suffix, mult in (("h", 3600.0), ("s", 1.0)):
        if s.endswith(suffix) and s[:-1].replace(".", "", 1).isdigit():
            return None, float(s[:-1]) * mult
    if s.endswith("m") and s[:-1].replace(".", "", 1).isdigit():
        return None, float(s[:-1]) * 60.0
    num = s.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = s[len(num):]
    if num and unit in _UNITS:
        return int(float(num) * _UNITS[unit]), None
    raise ValueError(f"split takes a size (2GiB, 500M, bytes) or a duration (10m, 90s, 1h), not {split!r}")


class Recorder:
    """Record topics of the current namespace into ``path`` until ``stop()`` (or the ``with`` block
    ends). ``topics``: names or globs (default: every topic but tensorbus's own ``_tb.*``);
    ``compression``: "zstd", "lz4" or "none"; ``split``: start a new file (``run_1.mcap``, ...)
    after a size or a duration; ``dicts``: "json" or "msgpack"; ``foxglove=True``: images, depth images and
    point clouds as ``foxglove.RawImage`` / ``foxglove.PointCloud`` (protobuf) instead of ``sensor_msgs``."""

    def __init__(self, path: Union[str, "os.PathLike[str]"], topics: Optional[List[str]] = None, compression: str = "zstd",
                 split: Union[None, int, float, str] = None, dicts: str = "json", foxglove: bool = False):
        split_bytes, split_seconds = _split(split)
        layouts = [(name, h, cls._tb_spec) for (name, h), cls in _REGISTRY.items()]
        self.path = os.fspath(path)
        self._rec = _native._Recorder(self.path, topics, compression, split_bytes, split_seconds, dicts, layouts, foxglove)
        self._final: Optional[dict] = None

    def report(self) -> dict:
        """``{"files": [...], "topics": {name: {"messages", "misses", "skipped", "bytes"}}}`` so far."""
        return self._final if self._final is not None else self._rec.report()

    def stop(self) -> dict:
        """Finish the file(s) and return the final report (again: the same report)."""
        if self._final is None:
            self._final = self._rec.stop()
        return self._final

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def replay(path: Union[str, "os.PathLike[str]"], rate: float = 1.0, loop: bool = False, start: Optional[float] = None,
           end: Optional[float] = None, topics: Optional[List[str]] = None, remap: Optional[dict] = None, restamp: bool = False) -> dict:
    """Publish a recording into the current namespace at its recorded pace (``rate=2.0``: twice as
    fast, 0: as fast as possible), each frame in a loaned slot: subscribers see the live types,
    shapes and timestamps (``restamp=True``: stamped now). ``start``/``end``: seconds from the first
    message; ``topics``: names or globs; ``remap``: ``{"recorded": "published"}``. Blocks until the end
    (Ctrl-C stops it); returns ``{"messages", "skipped", "topics": {name: count}}``."""
    return _native._replay(os.fspath(path), rate, loop, start, end, topics, list((remap or {}).items()), restamp)


def record_info(path: Union[str, "os.PathLike[str]"]) -> dict:
    """A recording's summary: messages, duration, and per topic its schema, count, rate, misses."""
    return _native._record_info(os.fspath(path))


def read_mcap(path: Union[str, "os.PathLike[str]"], topics: Optional[List[str]] = None, log_time: bool = False,
              errors: str = "raise") -> Iterator[Any]:
    """Iterate a recording: ``(topic, value)`` per message (``(topic, log_time_ns, value)`` with
    ``log_time=True``), in file order. Images, depth images, point clouds and tensors come back as
    ``tb.Image``/... in pool slots (the usual zero-copy exports apply), POD messages as their message
    class when it is declared in this process (else their bytes), dicts as dicts. A message that
    does not decode raises ``InvalidDescriptorError`` (``errors="skip"``: skipped)."""
    if errors not in ("raise", "skip"):
        raise ValueError(f'errors must be "raise" or "skip", not {errors!r}')
    for topic, t, kind, value in _native._McapReader(os.fspath(path), topics):
        if kind == "pod":
            name, h, raw = value
            cls = _REGISTRY.get((name, h))
            value = cls._tb_unpack(raw) if cls is not None else raw
        elif kind == "dict":
            value = _native.unpackb(value)
        elif kind == "error":
            if errors == "skip":
                continue
            raise InvalidDescriptorError(f"{path}: topic {topic}: {value}")
        yield (topic, t, value) if log_time else (topic, value)
