"""Live view: stream tensorbus topics to the Foxglove app, and watch one in a notebook.

``tb.view.serve()`` (and ``python -m tensorbus view``) starts a Foxglove WebSocket server (the
``foxglove-sdk`` package, ``pip install tensorbus[view]``) and forwards the namespace's topics as
they appear: ``Image`` and ``DepthImage`` as ``foxglove.RawImage``, ``PointCloud`` as
``foxglove.PointCloud``, POD messages and dicts as JSON, and ``Tensor`` as a JSON summary
(shape, dtype, min, max, mean: the Foxglove app has no panel for an N-d array).

The viewer is an ordinary subscriber of each topic, read with ``latest()`` from one thread that
sleeps in a ``tb.WaitSet`` until some topic has news: it never slows a publisher, and a frame it
has no time for (or that no client subscribed to, or that comes before the rate limit allows
another) is skipped and counted. Every wake-up reads, so it holds at most the one frame per
topic that it is converting. Topics with the ``reliable`` policy are left out unless asked for, since their publishers
wait for every subscriber. Each Foxglove client buffers at most ``backlog`` messages.

``tb.view.widget(topic)`` is the notebook side: a thumbnail of the latest frame and the
topic's rate, updated live (``ipywidgets``). A ``tb.Topic`` shown in a cell renders the same
once (``_jupyter.py``).

Example:
    >>> import tensorbus as tb
    >>> v = tb.view.serve(["camera.*"], port=8765)   # Foxglove: Open connection -> ws://127.0.0.1:8765
    >>> v.stats()["camera.rgb"]["forwarded"]
"""

from __future__ import annotations

import fnmatch
import json
import logging
import sys
import threading
import time
from typing import Any, Callable, Sequence

import numpy as np

from ._errors import TopicTypeError
from ._native import DepthImage, Image, Payload, PointCloud, Topic, WaitSet, pool_stats

__all__ = ["serve", "Viewer", "widget", "Widget"]

log = logging.getLogger("tensorbus.view")

INTERNAL_PREFIX = "_tb."
DISCOVER_EVERY = 1.0  # seconds between looks for new (or removed) topics
PAYLOAD_KINDS = ("Image", "DepthImage", "PointCloud", "Tensor", "Payload")
# tensorbus image encoding -> Foxglove RawImage encoding (rgb32f is converted to rgb8).
IMAGE_ENCODINGS = {
    "rgb8": "rgb8",
    "bgr8": "bgr8",
    "rgba8": "rgba8",
    "bgra8": "bgra8",
    "mono8": "mono8",
    "mono16": "mono16",
    "mono32f": "32FC1",
    "yuv422": "yuyv",  # tensorbus's yuv422 is packed YUYV; Foxglove's "yuv422" means UYVY
    "bayer_rggb8": "bayer_rggb8",
}
POINT_FIELDS = {"xyz": ("x", "y", "z"), "xyzi": ("x", "y", "z", "intensity"), "xyzrgb": ("x", "y", "z", "red", "green", "blue")}


def _foxglove():
    try:
        import foxglove
        import foxglove.channels
        import foxglove.messages
    except ImportError as e:
        raise ImportError(f"tensorbus.view needs the foxglove-sdk package: pip install tensorbus[view] (or pip install foxglove-sdk); {e}") from e
    return foxglove


def _matches(name: str, patterns: Sequence[str] | None) -> bool:
    """Default: every topic but tensorbus's own (``_tb.*``); those only by a pattern naming them."""
    if patterns is None:
        return not name.startswith(INTERNAL_PREFIX)
    return any(fnmatch.fnmatchcase(name, p) and (p.startswith(INTERNAL_PREFIX) or not name.startswith(INTERNAL_PREFIX)) for p in patterns)


def message_classes(extra: Sequence[type] = ()) -> dict[str, type]:
    """``@tb.message`` classes by type name: ``extra`` first, then those at the top level of any
    loaded module (the standard ones of ``tensorbus.messages`` among them)."""
    found: dict[str, type] = {}
    for mod in list(sys.modules.values()):
        for v in list(getattr(mod, "__dict__", {}).values()):
            # `type(v) is type` (how @tb.message builds classes) and the class's own __dict__: no
            # hook of a foreign object (deprecation wrappers, lazy modules) runs
            if type(v) is type and "_tb_fields" in v.__dict__ and isinstance(v.__dict__.get("_tb_type_name"), str):
                found.setdefault(v.__dict__["_tb_type_name"], v)
    found.update({c._tb_type_name: c for c in extra})
    return found


def jsonable(x: Any) -> Any:
    """``x`` with tuples, NumPy values and bytes turned into JSON values (NaN and inf become null)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        return jsonable(x.item())
    if isinstance(x, float):
        return x if np.isfinite(x) else None
    if isinstance(x, (bytes, bytearray, memoryview)):
        b = bytes(x)
        return b.hex() if len(b) <= 64 else f"<{len(b)} bytes>"
    return x


def pod_json(msg: Any) -> dict:
    return {f: jsonable(getattr(msg, f)) for f, _ in msg._tb_fields}


def pod_schema(cls: type) -> dict:
    """A JSON schema of a ``@tb.message`` class (numbers, integers, fixed-length arrays)."""

    def one(t) -> dict:
        return {"type": "number" if t.code in "fd" else "integer"}

    props = {}
    for f, t in cls._tb_fields:
        elem = getattr(t, "elem", None)
        props[f] = {"type": "array", "items": one(elem), "minItems": t.n, "maxItems": t.n} if elem is not None else one(t)
    return {"title": f"tensorbus.{cls._tb_type_name}", "type": "object", "properties": props}


def tensor_summary(t: Payload, max_elems: int = 1 << 22) -> dict:
    """Shape, dtype and (up to ``max_elems`` elements) min, max and mean of a payload."""
    out: dict[str, Any] = {"shape": list(t.shape), "dtype": t.dtype, "nbytes": t.nbytes, "seq": t.seq, "timestamp_ns": t.timestamp_ns}
    try:
        a = t.to_numpy()
    except Exception:  # dtypes NumPy lacks (bfloat16, ...): no statistics
        return out
    if 0 < a.size <= max_elems and (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        v = a.astype(np.float64)
        out.update(min=jsonable(np.nanmin(v)), max=jsonable(np.nanmax(v)), mean=jsonable(np.nanmean(v)))
    return out


def _stamp(fg, ns: int):
    return fg.messages.Timestamp(ns // 1_000_000_000, ns % 1_000_000_000)


def raw_image(fg, img: Payload):
    """A ``foxglove.RawImage`` of an ``Image`` or ``DepthImage`` (one copy of the pixels)."""
    a = img.to_numpy()
    if isinstance(img, DepthImage):
        enc = "16UC1" if a.dtype == np.uint16 else "32FC1"
    elif img.encoding == "rgb32f":  # no float RGB in Foxglove: 0..1 -> rgb8
        a, enc = (np.clip(np.nan_to_num(a), 0.0, 1.0) * 255).round().astype(np.uint8), "rgb8"
    else:
        enc = IMAGE_ENCODINGS.get(img.encoding)
        if enc is None:
            raise ValueError(f"no Foxglove encoding for {img.encoding}")
    data = np.ascontiguousarray(a).tobytes()
    h, w = int(a.shape[0]), int(a.shape[1])
    return fg.messages.RawImage(timestamp=_stamp(fg, img.timestamp_ns), frame_id=img.frame_id, width=w, height=h, encoding=enc, step=len(data) // max(h, 1), data=data)


def point_cloud(fg, pc: PointCloud):
    """A ``foxglove.PointCloud`` of a ``PointCloud``: packed float32 x, y, z[, intensity | red, green, blue]."""
    m = fg.messages
    a = np.ascontiguousarray(pc.to_numpy(), dtype=np.float32)
    names = POINT_FIELDS.get(pc.fields) or tuple(f"f{i}" for i in range(a.shape[1]))
    fields = [m.PackedElementField(name=n, offset=4 * i, type=m.PackedElementFieldNumericType.Float32) for i, n in enumerate(names)]
    return m.PointCloud(timestamp=_stamp(fg, pc.timestamp_ns), frame_id=pc.frame_id, point_stride=4 * a.shape[1], fields=fields, data=a.tobytes())


def _kind(msg: Any) -> str:
    if isinstance(msg, (Image, DepthImage, PointCloud)):
        return type(msg).__name__
    if isinstance(msg, Payload):
        return "Tensor"
    if isinstance(msg, dict):
        return "dict"
    if isinstance(msg, (bytes, bytearray)):
        return "bytes"
    return getattr(type(msg), "_tb_type_name", type(msg).__name__)


class _Watched:
    """One viewed topic: its subscriber handle, Foxglove channels (one per kind of message) and counts."""

    def __init__(self, name: str, handle: Topic, type_name: str):
        self.name, self.handle, self.type_name = name, handle, type_name
        self.channels: dict[str, Any] = {}
        self.forwarded = self.errors = 0
        self.next_due = 0.0
        self.warned: set[str] = set()

    def counts(self) -> dict:
        received, misses = self.handle.received, self.handle.misses
        return {
            "type": self.type_name,
            "forwarded": self.forwarded,
            # published while watched and not forwarded: overwritten before a read, skipped by
            # latest(), rate-limited, unwatched by any client, or failed to convert
            "skipped": misses + max(0, received - self.forwarded),
            "errors": self.errors,
            "channels": sorted(ch.topic() for ch in list(self.channels.values())),  # the forwarding thread may add one
        }


class Viewer:
    """A running Foxglove WebSocket server fed by tensorbus topics (see :func:`serve`)."""

    def __init__(self, topics=None, host="127.0.0.1", port=8765, rate_limit=None, *, messages=(), include_reliable=False, backlog=8, name="tensorbus"):
        fg = _foxglove()
        if rate_limit is not None and not rate_limit > 0:
            raise ValueError(f"rate_limit must be > 0 frames/s or None, got {rate_limit!r}")
        self._fg = fg
        self._patterns = None if topics is None else [topics] if isinstance(topics, str) else list(topics)
        self._period = 0.0 if rate_limit is None else 1.0 / rate_limit
        self._extra = tuple(messages)
        self._include_reliable = include_reliable
        self._host = host
        self._ctx = fg.Context()
        self._server = fg.start_server(name=name, host=host, port=port, context=self._ctx, message_backlog_size=backlog)
        self._ws = WaitSet()
        self._watched: dict[str, _Watched] = {}
        self._ignored: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tensorbus-view", daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The port the server listens on (the one chosen when ``port=0``)."""
        return self._server.port

    @property
    def url(self) -> str:
        return f"ws://{self._host}:{self.port}"

    def app_url(self) -> str | None:
        """A link that opens this server in the Foxglove web app."""
        return self._server.app_url()

    def stats(self) -> dict[str, dict]:
        """Per topic: type, forwarded, skipped (not forwarded), errors, Foxglove channel names."""
        with self._lock:
            return {n: w.counts() for n, w in self._watched.items()}

    def stop(self) -> None:
        """Stop forwarding, close the server and release the topics' subscribers."""
        self._stop.set()
        self._ws.interrupt()
        self._thread.join(timeout=5)
        self._server.stop()
        with self._lock:
            for w in self._watched.values():
                self._ws.remove(w.handle)
                for ch in w.channels.values():
                    ch.close()
            self._watched.clear()

    def __enter__(self) -> Viewer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<tensorbus.view.Viewer {self.url} topics={sorted(self._watched)}>"

    # --- the forwarding thread ---------------------------------------------------------------

    def _run(self) -> None:
        next_look = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_look:
                try:
                    self._discover()
                except Exception as e:  # a namespace being cleaned up under us: try again later
                    log.warning("topic discovery failed: %s", e)
                next_look = now + DISCOVER_EVERY
            for handle, why in self._ws.wait(max(0.0, next_look - now)):
                w = self._watched.get(handle.name)
                if w is not None and why == "ready" and not self._stop.is_set():
                    self._forward(w)

    def _discover(self) -> None:
        listed = {t["name"]: t for t in pool_stats()["topics"]}
        for name, t in listed.items():
            if name in self._watched or name in self._ignored or not _matches(name, self._patterns):
                continue
            if t.get("policy") == "reliable" and not self._include_reliable:
                log.info("not viewing %s: a reliable topic's publisher waits for every subscriber (include_reliable=True to view it anyway)", name)
                self._ignored.add(name)
                continue
            try:
                w = self._open(name, t.get("type", ""))
            except Exception as e:  # e.g. removed between the listing and the open
                log.warning("cannot view %s: %s", name, e)
                self._ignored.add(name)
                continue
            with self._lock:
                self._watched[name] = w
            self._ws.add(w.handle)
            log.info("viewing %s (%s)", name, w.type_name or "untyped")
        for name in [n for n in self._watched if n not in listed]:
            with self._lock:
                w = self._watched.pop(name)
            self._ws.remove(w.handle)
            for ch in w.channels.values():
                ch.close()

    def _open(self, name: str, type_name: str) -> _Watched:
        cls = None
        if type_name and type_name not in PAYLOAD_KINDS and type_name != "dict":
            cls = message_classes(self._extra).get(type_name)
        try:
            handle = Topic(name, cls)
        except TopicTypeError:  # same name, another layout: forward its bytes
            handle = Topic(name)
        w = _Watched(name, handle, type_name)
        # Advertise typed topics at once (an untyped one when its first message shows its kind).
        if type_name in ("Image", "DepthImage", "PointCloud", "Tensor", "dict"):
            self._channel(w, type_name)
        elif cls is not None:
            self._channel(w, cls._tb_type_name, cls)
        elif type_name and type_name != "Payload":
            log.info("%s carries %s, a message class this process does not know: forwarding its bytes as hex (serve(messages=[...]) to decode it)", name, type_name)
            self._channel(w, "bytes")
        return w

    def _forward(self, w: _Watched) -> None:
        # Every wake-up reads (so the viewer pins no more than the frame in hand); only a frame
        # that is due and that some client subscribed to is converted and sent.
        msg = w.handle.latest()
        if msg is None:
            return
        now = time.monotonic()
        if now < w.next_due:
            return
        kind = _kind(msg)
        try:
            ch = w.channels.get(kind) or self._channel(w, kind, type(msg))
            if not ch.has_sinks():  # no client subscribed: don't convert
                return
            w.next_due = now + self._period
            ch.log(self._convert(kind, msg), log_time=time.time_ns())
            w.forwarded += 1
        except Exception as e:
            w.errors += 1
            if kind not in w.warned:
                w.warned.add(kind)
                log.warning("%s: cannot forward %s: %s", w.name, kind, e)
        finally:
            del msg  # the frame's slot is released here, not at the next message

    def _channel(self, w: _Watched, kind: str, cls: type | None = None):
        fg = self._fg
        topic = w.name if not w.channels else f"{w.name}.{kind}"  # an untyped topic carrying several kinds
        if kind in ("Image", "DepthImage"):
            ch = fg.channels.RawImageChannel(topic, context=self._ctx)
        elif kind == "PointCloud":
            ch = fg.channels.PointCloudChannel(topic, context=self._ctx)
        else:
            schema = pod_schema(cls) if hasattr(cls, "_tb_fields") else {"title": f"tensorbus.{kind}", "type": "object"}
            data = json.dumps(schema).encode() if "properties" in schema else b""
            ch = fg.Channel(topic, schema=fg.Schema(name=schema["title"], encoding="jsonschema", data=data), message_encoding="json", context=self._ctx)
        w.channels[kind] = ch
        return ch

    def _convert(self, kind: str, msg: Any) -> Any:
        fg = self._fg
        if kind in ("Image", "DepthImage"):
            return raw_image(fg, msg)
        if kind == "PointCloud":
            return point_cloud(fg, msg)
        if kind == "Tensor":
            return json.dumps(tensor_summary(msg))
        if kind == "dict":
            return json.dumps(jsonable(msg))
        if kind == "bytes":
            return json.dumps({"size": len(msg), "hex": bytes(msg).hex()})
        return json.dumps(pod_json(msg))


def serve(topics=None, host="127.0.0.1", port=8765, rate_limit=None, **options) -> Viewer:
    """Start a Foxglove WebSocket server that streams tensorbus topics; returns the running :class:`Viewer`.

    In the Foxglove app: Open connection -> Foxglove WebSocket -> ``ws://HOST:PORT``.

    Args:
        topics: glob patterns of topic names (``"camera.*"``) or one pattern; None: every topic
            but tensorbus's own (``_tb.*``). Topics are picked up as they appear (about once a second).
        host: address to listen on (``"0.0.0.0"`` for every interface).
        port: TCP port; 0 picks a free one (``viewer.port``).
        rate_limit: at most this many frames per second per topic (None: as fast as they come and
            the viewer keeps up; the rest are skipped).
        **options: ``messages=[cls, ...]`` (``@tb.message`` classes to decode besides the ones
            this process has imported), ``include_reliable=True`` (also view reliable topics,
            whose publishers then wait for the viewer), ``backlog=8`` (messages buffered per
            client), ``name`` (the server's name).

    Raises:
        ImportError: foxglove-sdk is not installed (``pip install tensorbus[view]``).
    """
    return Viewer(topics, host, port, rate_limit, **options)


# --- notebook widget ------------------------------------------------------------------------


class Widget:
    """A live thumbnail of a topic's latest frame and its rate (see :func:`widget`)."""

    def __init__(self, topic, max_fps: float = 10.0, width: int = 320):
        try:
            import ipywidgets
        except ImportError as e:
            raise ImportError("tb.view.widget needs ipywidgets: pip install ipywidgets") from e
        from . import _jupyter

        name = topic if isinstance(topic, str) else topic.name
        self._handle = Topic(name)  # its own subscriber: the caller's handle keeps its unread messages
        self._render: Callable[[Any], tuple[bytes | None, str]] = lambda m: _jupyter.thumbnail(m, width)
        self._period = 1.0 / max_fps
        self.image = ipywidgets.Image(format="png", layout=ipywidgets.Layout(max_width=f"{width}px"))
        self.label = ipywidgets.Label(value=f"{name}: waiting")
        self.text = ipywidgets.HTML()
        self.box = ipywidgets.VBox([self.label, self.image, self.text])
        self.frames = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"tensorbus-widget-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        h = self._handle
        t0, sent0 = time.monotonic(), h.sent
        while not self._stop.is_set():
            if not _wait_one(h, 0.5):
                continue
            msg = h.latest()
            if msg is None:
                continue
            png, html_text = self._render(msg)
            del msg
            if png is not None:
                self.image.value = png
            self.text.value = html_text
            self.frames += 1
            dt = time.monotonic() - t0
            self.label.value = f"{h.name} ({h.type_name or 'untyped'}): {(h.sent - sent0) / dt if dt > 0 else 0.0:.1f} msg/s, {h.sent} sent"
            self._stop.wait(self._period)

    def stop(self) -> None:
        """Stop updating (the widget keeps its last frame)."""
        self._stop.set()
        self._thread.join(timeout=2)

    def close(self) -> None:
        self.stop()
        self.box.close()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)


def _wait_one(handle: Topic, timeout: float) -> bool:
    from ._native import wait

    return bool(wait([handle], timeout))


def widget(topic, max_fps: float = 10.0, width: int = 320) -> Widget:
    """A notebook widget showing ``topic``'s latest frame (images, depth) or message and its
    rate, updated live from a background thread at most ``max_fps`` times a second.

    Args:
        topic: a ``tb.Topic`` or a topic name; the widget reads through a subscriber of its own.
        width: thumbnail width in pixels (larger frames are subsampled).

    Raises:
        ImportError: ipywidgets is not installed.
    """
    return Widget(topic, max_fps, width)
