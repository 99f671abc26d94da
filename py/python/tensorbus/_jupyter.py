"""Rich display in Jupyter: ``Image`` and ``DepthImage`` render inline as PNG (depth colour-mapped),
``PointCloud`` and ``Tensor`` as a short HTML summary table, and a ``Topic`` as its name, type,
depth, sent count and rate with a thumbnail (or summary) of its latest message. The live version
of the last is ``tb.view.widget(topic)``.

The PNG encoder is pure Python (zlib + NumPy), so no imaging library is needed. Importing
``tensorbus`` attaches the hooks; nothing here runs until IPython asks for a representation.

Example:
    >>> import tensorbus as tb
    >>> img = tb.Topic("camera.rgb", tb.Image).latest()   # in a notebook cell: shows the frame
"""

from __future__ import annotations

import base64
import html
import math
import struct
import time
import zlib

import numpy as np

from ._native import DepthImage, Image, Payload, PointCloud, Tensor, Topic

__all__ = ["encode_png", "colorize_depth", "thumbnail"]

THUMBNAIL_WIDTH = 320  # pixels: a topic's latest frame is subsampled to at most this wide
RATE_WINDOW = 0.2  # seconds a topic's first display counts messages to tell its rate

# A small perceptual colormap (turbo-like anchors), interpolated linearly: near = blue, far = red.
_ANCHORS = np.array(
    [
        [48, 18, 59],
        [70, 107, 227],
        [40, 188, 235],
        [50, 241, 151],
        [164, 252, 60],
        [238, 207, 58],
        [251, 128, 34],
        [208, 47, 5],
        [122, 4, 3],
    ],
    dtype=np.float32,
)


def encode_png(arr: np.ndarray) -> bytes:
    """Encode an (H, W) or (H, W, C) uint8/uint16 array (C = 1, 3 or 4) as PNG bytes.

    Args:
        arr: pixel data; uint16 is written as 16-bit (big-endian, as PNG requires).

    Returns:
        The PNG file's bytes.

    Raises:
        ValueError: for other dtypes, ranks or channel counts.
    """
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        channels = 1
    elif a.ndim == 3 and a.shape[2] in (3, 4):
        channels = a.shape[2]
    else:
        raise ValueError(f"cannot encode an array of shape {a.shape} as PNG")
    if a.dtype == np.uint8:
        depth = 8
    elif a.dtype == np.uint16:
        depth = 16
        a = a.astype(">u2")
    else:
        raise ValueError(f"cannot encode dtype {a.dtype} as PNG (uint8 or uint16)")
    h, w = a.shape[:2]
    color_type = {1: 0, 3: 2, 4: 6}[channels]
    rows = np.ascontiguousarray(a).reshape(h, -1).view(np.uint8)
    raw = np.empty((h, rows.shape[1] + 1), dtype=np.uint8)
    raw[:, 0] = 0  # filter type None on every row
    raw[:, 1:] = rows

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(b"IEND", b"")


def colorize_depth(depth: np.ndarray) -> np.ndarray:
    """Map a depth array (any unit) to RGB: valid (finite, > 0) values spread over the colormap
    between their min and max; invalid pixels are black.

    Returns:
        An (H, W, 3) uint8 array.
    """
    d = np.asarray(depth, dtype=np.float32)
    if d.ndim == 3:
        d = d[:, :, 0]
    valid = np.isfinite(d) & (d > 0)
    out = np.zeros(d.shape + (3,), dtype=np.uint8)
    if not valid.any():
        return out
    lo, hi = float(d[valid].min()), float(d[valid].max())
    t = np.zeros_like(d)
    t[valid] = (d[valid] - lo) / (hi - lo) if hi > lo else 0.0
    x = t * (len(_ANCHORS) - 1)
    i = np.clip(x.astype(np.int64), 0, len(_ANCHORS) - 2)
    f = (x - i)[..., None]
    rgb = _ANCHORS[i] * (1 - f) + _ANCHORS[i + 1] * f
    out[valid] = rgb[valid].round().astype(np.uint8)
    return out


def _to_display(img) -> np.ndarray | None:
    a = img.to_numpy()
    enc = img.encoding
    if enc in ("mono8", "rgb8", "rgba8", "mono16"):
        return a
    if enc == "bgr8":
        return a[:, :, ::-1]
    if enc == "bgra8":
        return a[:, :, [2, 1, 0, 3]]
    if enc == "mono32f":
        return colorize_depth(a)
    if enc == "rgb32f":
        return (np.clip(np.nan_to_num(a), 0.0, 1.0) * 255).round().astype(np.uint8)
    return None  # yuv422 and anything new: IPython falls back to repr()


def _image_png(self) -> bytes | None:
    a = _to_display(self)
    return None if a is None else encode_png(a)


def _depth_png(self) -> bytes:
    return encode_png(colorize_depth(self.to_numpy()))


def _rows(pairs) -> str:
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td style='text-align:left'>{html.escape(str(v))}</td></tr>" for k, v in pairs)
    return f"<table>{body}</table>"


def _common(p) -> list:
    rows = [("seq", p.seq), ("timestamp_ns", p.timestamp_ns)]
    if p.frame_id:
        rows.append(("frame_id", p.frame_id))
    rows.append(("memory", "shared pool slot, " + ("read-only" if p.readonly else "writable (loaned)")))
    return rows


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _points_html(self) -> str:
    a = self.to_numpy()
    rows = [("PointCloud", f"{self.shape[0]} points"), ("fields", self.fields), ("shape", tuple(self.shape)), ("dtype", self.dtype), ("nbytes", self.nbytes)]
    if a.size and a.ndim == 2 and a.shape[1] >= 3 and np.issubdtype(a.dtype, np.number):
        xyz = a[:, :3].astype(np.float64)
        ok = np.isfinite(xyz).all(axis=1)
        if ok.any():
            lo, hi = xyz[ok].min(axis=0), xyz[ok].max(axis=0)
            rows.append(("bounds", " ".join(f"{c}: [{_fmt(low)}, {_fmt(high)}]" for c, low, high in zip("xyz", lo, hi))))
    return _rows(rows + _common(self))


def _tensor_html(self) -> str:
    rows = [("Tensor", f"shape {tuple(self.shape)}"), ("dtype", self.dtype), ("nbytes", self.nbytes)]
    try:
        a = self.to_numpy()
    except Exception:  # dtypes NumPy lacks (bfloat16, ...): summary without statistics
        a = None
    if a is not None and a.size and (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        v = a.astype(np.float64)
        rows.append(("min / max / mean", f"{_fmt(np.nanmin(v))} / {_fmt(np.nanmax(v))} / {_fmt(np.nanmean(v))}"))
    return _rows(rows + _common(self))


def thumbnail(msg, width: int = THUMBNAIL_WIDTH) -> tuple:
    """``(png, html)`` of a message for a small display: a PNG (None for non-images) subsampled to
    at most ``width`` pixels wide, and an HTML summary line or table."""
    if isinstance(msg, (Image, DepthImage)):
        a = colorize_depth(msg.to_numpy()) if isinstance(msg, DepthImage) else _to_display(msg)
        about = f"{type(msg).__name__} {msg.width}x{msg.height}" + (f" {msg.encoding}" if isinstance(msg, Image) else f" {msg.dtype} {msg.unit}")
        if a is None:
            return None, html.escape(about)
        step = max(1, math.ceil(a.shape[1] / width))
        return encode_png(np.ascontiguousarray(a[::step, ::step])), html.escape(f"{about}, seq {msg.seq}")
    if isinstance(msg, PointCloud):
        return None, _points_html(msg)
    if isinstance(msg, Payload):
        return None, _tensor_html(msg)
    return None, f"<code>{html.escape(repr(msg))}</code>"


_seen: dict = {}  # topic name -> (monotonic time, sent) at its last display, for the rate


def _rate(topic) -> tuple:
    """(messages/s, over how many seconds): since the topic's previous display when that was at
    least RATE_WINDOW ago, else counted over RATE_WINDOW now."""
    now, sent = time.monotonic(), topic.sent
    last = _seen.get(topic.name)
    if last is None or now - last[0] < RATE_WINDOW:
        if sent == 0:  # nothing was ever published: no need to wait and see
            return 0.0, 0.0
        time.sleep(RATE_WINDOW)
        last, now, sent = (now, sent), time.monotonic(), topic.sent
    _seen[topic.name] = (now, sent)
    return (sent - last[1]) / (now - last[0]), now - last[0]


def _topic_html(self) -> str:
    # A subscriber of its own (started at the newest message): the caller's handle keeps its
    # unread messages and its counters.
    from .view import message_classes

    peek = Topic(self.name, message_classes().get(self.type_name) if self.type_name else None)
    msg = peek.latest()
    rate, window = _rate(self)
    rows = [("Topic", self.name), ("type", self.type_name or "untyped"), ("depth", self.depth), ("policy", self.policy), ("sent", self.sent)]
    rows.append(("rate", f"{rate:.1f} msg/s (over {window:.1f} s)" if window else "0 msg/s (nothing sent)"))
    head = _rows(rows)
    if msg is None:
        return head + "<p>(no message yet)</p>"
    png, about = thumbnail(msg)
    del msg, peek
    img = "" if png is None else f"<img src='data:image/png;base64,{base64.b64encode(png).decode()}'/>"
    return f"{head}<div>{img}</div><div>{about}</div>"


Topic._repr_html_ = _topic_html
Image._repr_png_ = _image_png
DepthImage._repr_png_ = _depth_png
PointCloud._repr_html_ = _points_html
Tensor._repr_html_ = _tensor_html
