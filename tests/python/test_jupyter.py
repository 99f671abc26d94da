"""Jupyter display hooks: PNG for images and depth, HTML summaries for point clouds and tensors."""

import struct
import zlib

import numpy as np
import pytest
import tensorbus as tb
from tensorbus._jupyter import colorize_depth, encode_png


def decode_png(data: bytes) -> tuple[int, int, int, int, bytes]:
    """(width, height, bit depth, colour type, raw scanlines) of a PNG, checking every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        if tag == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype = ihdr[:4]
    return w, h, depth, ctype, zlib.decompress(idat)


def pixels(data: bytes) -> np.ndarray:
    w, h, depth, ctype, raw = decode_png(data)
    ch = {0: 1, 2: 3, 6: 4}[ctype]
    dt = np.dtype(">u2") if depth == 16 else np.uint8
    rows = np.frombuffer(raw, np.uint8).reshape(h, -1)
    assert (rows[:, 0] == 0).all()
    return np.frombuffer(rows[:, 1:].tobytes(), dt).reshape(h, w, ch).squeeze()


@pytest.mark.parametrize("encoding,channels", [("rgb8", 3), ("rgba8", 4), ("mono8", 1)])
def test_image_png_round_trips(encoding, channels):
    rng = np.random.default_rng(1)
    shape = (5, 7, channels) if channels > 1 else (5, 7)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    img = tb.Image.from_numpy(a, encoding)
    assert np.array_equal(pixels(img._repr_png_()), a)


def test_bgr_is_shown_as_rgb_and_mono16_keeps_16_bits():
    a = np.zeros((2, 3, 3), np.uint8)
    a[..., 0] = 255  # blue in BGR
    out = pixels(tb.Image.from_numpy(a, "bgr8")._repr_png_())
    assert (out[..., 2] == 255).all() and (out[..., 0] == 0).all()
    m = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000
    w, h, depth, ctype, _ = decode_png(tb.Image.from_numpy(m, "mono16")._repr_png_())
    assert (w, h, depth, ctype) == (4, 3, 16, 0)
    assert np.array_equal(pixels(tb.Image.from_numpy(m, "mono16")._repr_png_()), m)


def test_depth_is_colour_mapped_with_invalid_pixels_black():
    d = np.linspace(0.5, 4.0, 20, dtype=np.float32).reshape(4, 5)
    d[0, 0] = 0.0
    d[0, 1] = np.nan
    img = tb.DepthImage.from_numpy(d)
    rgb = pixels(img._repr_png_())
    assert rgb.shape == (4, 5, 3)
    assert (rgb[0, 0] == 0).all() and (rgb[0, 1] == 0).all()
    near, far = rgb[0, 2].astype(int), rgb[3, 4].astype(int)
    assert near[2] > near[0] and far[0] > far[2]  # near blue, far red
    assert np.array_equal(colorize_depth(d), rgb)
    assert pixels(tb.DepthImage.from_numpy(np.full((2, 2), 1000, np.uint16))._repr_png_()).shape == (2, 2, 3)


def test_point_cloud_and_tensor_html_summaries():
    pts = tb.PointCloud.from_numpy(np.array([[0, 1, 2], [3, -4, 5]], np.float32))
    h = pts._repr_html_()
    assert "<table>" in h and "2 points" in h and "x: [0, 3]" in h and "y: [-4, 1]" in h
    t = tb.Tensor.from_numpy(np.arange(6, dtype=np.float32).reshape(2, 3))
    h = t._repr_html_()
    assert "(2, 3)" in h and "float32" in h and "0 / 5 / 2.5" in h


def test_encode_png_rejects_what_it_cannot_write():
    with pytest.raises(ValueError):
        encode_png(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError):
        encode_png(np.zeros((2, 2, 2), np.uint8))
