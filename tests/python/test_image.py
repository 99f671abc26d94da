"""tb.Image: zero-copy views, encodings (explicit and inferred), bad input, read-only once shared,
PNG/JPEG files (binding: py/src/image.rs, payload.rs)."""

import struct

import numpy as np
import pytest

ENCODINGS = {
    # name: (dtype, channels)
    "mono8": (np.uint8, 1),
    "mono16": (np.uint16, 1),
    "rgb8": (np.uint8, 3),
    "bgr8": (np.uint8, 3),
    "rgba8": (np.uint8, 4),
    "bgra8": (np.uint8, 4),
    "yuv422": (np.uint8, 2),
    "mono32f": (np.float32, 1),
    "rgb32f": (np.float32, 3),
    "bayer_rggb8": (np.uint8, 1),
}


def _pattern(h, w, dtype, channels, seed=0):
    shape = (h, w) if channels == 1 else (h, w, channels)
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype, endpoint=True)


# -- zero-copy -------------------------------------------------------------------------------


def test_image_views_share_the_slot_pointer(tb, fresh_ns):
    import jax.numpy as jnp
    import torch

    img = tb.Image(48, 64, "rgb8")
    assert img.data_ptr % 256 == 0
    a = img.to_numpy()
    assert a.ctypes.data == img.data_ptr and a.flags.writeable and a.shape == (48, 64, 3)
    assert img.to_torch().data_ptr() == img.data_ptr
    assert img.to_jax().unsafe_buffer_pointer() == img.data_ptr
    assert np.from_dlpack(img).ctypes.data == img.data_ptr
    assert torch.from_dlpack(img).data_ptr() == img.data_ptr
    assert jnp.from_dlpack(img).unsafe_buffer_pointer() == img.data_ptr


def test_writes_through_numpy_are_seen_by_torch_and_jax(tb, fresh_ns):
    img = tb.Image(8, 8, "mono8")
    img.to_numpy()[:] = np.arange(64, dtype=np.uint8).reshape(8, 8)
    t = img.to_torch()
    assert t.numpy().tolist() == np.arange(64).reshape(8, 8).tolist()
    t[0, 0] = 200
    assert img.to_numpy()[0, 0] == 200
    assert int(img.to_jax()[0, 0]) == 200


def test_properties_and_repr(tb, fresh_ns):
    img = tb.Image(6, 10, "bgra8")
    assert (img.height, img.width, img.channels, img.encoding) == (6, 10, 4, "bgra8")
    assert (img.shape, img.dtype, img.ndim, img.nbytes) == ((6, 10, 4), "uint8", 3, 240)
    assert img.timestamp_ns > 0, "a loaned image gets a default capture time"
    assert not img.readonly
    pool, slot, gen = img.slot
    assert gen >= 1
    r = repr(img)
    assert "Image" in r and "bgra8" in r and "loaned" in r
    img.frame_id = "cam0"
    assert "cam0" in repr(img)
    img.freeze()
    assert "shared" in repr(img)


def test_frame_id_and_timestamp_settable_while_loaned(tb, fresh_ns):
    img = tb.Image(2, 2, "mono8")
    img.timestamp_ns = 123
    img.frame_id = "x" * 31
    assert (img.timestamp_ns, img.frame_id) == (123, "x" * 31)
    img.frame_id = "é" * 15  # 30 bytes UTF-8
    assert img.frame_id == "é" * 15


def test_frame_id_longer_than_31_bytes_raises_value_error(tb, fresh_ns):
    img = tb.Image(2, 2, "mono8")
    with pytest.raises(ValueError):
        img.frame_id = "x" * 32


def test_frame_id_longer_than_31_bytes_is_refused(tb, fresh_ns):
    img = tb.Image(2, 2, "mono8")
    for bad in ("x" * 32, "é" * 16):
        with pytest.raises(tb.TensorbusError):
            img.frame_id = bad
    assert img.frame_id == ""


# -- encodings --------------------------------------------------------------------------------


@pytest.mark.parametrize("enc", sorted(ENCODINGS))
def test_every_encoding_round_trips_values(tb, fresh_ns, enc):
    dtype, ch = ENCODINGS[enc]
    src = _pattern(5, 7, dtype, ch, seed=len(enc))
    img = tb.Image.from_numpy(src, encoding=enc)
    assert img.encoding == enc and img.channels == ch
    assert (img.height, img.width) == (5, 7)
    out = img.to_numpy()
    assert out.dtype == dtype and out.shape == src.shape
    np.testing.assert_array_equal(out, src)
    assert out.ctypes.data == img.data_ptr
    np.testing.assert_array_equal(img.to_torch().numpy(), src)


@pytest.mark.parametrize("enc", sorted(ENCODINGS))
def test_loaned_image_has_encoding_shape(tb, fresh_ns, enc):
    dtype, ch = ENCODINGS[enc]
    img = tb.Image(3, 4, enc)
    assert img.to_numpy().dtype == dtype
    assert img.shape == ((3, 4) if ch == 1 else (3, 4, ch))


def test_encoding_names_are_case_insensitive_with_ros_aliases(tb, fresh_ns):
    assert tb.Image(2, 2, "RGB8").encoding == "rgb8"
    assert tb.Image(2, 2, "16UC1").encoding == "mono16"
    assert tb.Image(2, 2, "yuyv").encoding == "yuv422"


@pytest.mark.parametrize(
    "shape,dtype,expected",
    [
        ((4, 5), np.uint8, "mono8"),
        ((4, 5, 1), np.uint8, "mono8"),
        ((4, 5, 3), np.uint8, "rgb8"),
        ((4, 5, 4), np.uint8, "rgba8"),
        ((4, 5), np.uint16, "mono16"),
        ((4, 5), np.float32, "mono32f"),
        ((4, 5, 3), np.float32, "rgb32f"),
    ],
)
def test_encoding_inferred_where_unambiguous(tb, fresh_ns, shape, dtype, expected):
    src = np.arange(int(np.prod(shape))).astype(dtype).reshape(shape)
    img = tb.Image.from_numpy(src)
    assert img.encoding == expected
    np.testing.assert_array_equal(img.to_numpy().reshape(shape), src)


@pytest.mark.parametrize(
    "shape,dtype",
    [((4, 5, 2), np.uint8), ((4, 5, 3), np.uint16), ((4, 5, 4), np.float32), ((4, 5, 5), np.uint8)],
)
def test_ambiguous_encoding_raises_encoding_error(tb, fresh_ns, shape, dtype):
    with pytest.raises(tb.EncodingError, match="encoding="):
        tb.Image.from_numpy(np.zeros(shape, dtype))
    assert tb.pool_stats()["used_slots"] == 0


# -- bad input -------------------------------------------------------------------------------


def test_unknown_encoding_raises_encoding_error(tb, fresh_ns):
    with pytest.raises(tb.EncodingError, match="rgb9"):
        tb.Image(4, 4, "rgb9")
    with pytest.raises(tb.EncodingError):
        tb.Image.from_numpy(np.zeros((4, 4, 3), np.uint8), encoding="nope")


@pytest.mark.parametrize("enc,dtype", [("rgb8", np.float32), ("mono16", np.uint8), ("mono32f", np.float64), ("rgb32f", np.uint8)])
def test_wrong_dtype_for_encoding_raises_dtype_error(tb, fresh_ns, enc, dtype):
    ch = ENCODINGS[enc][1]
    shape = (4, 4) if ch == 1 else (4, 4, ch)
    with pytest.raises(tb.DTypeError, match=enc):
        tb.Image.from_numpy(np.zeros(shape, dtype), encoding=enc)


@pytest.mark.parametrize(
    "shape,enc",
    [((4, 4, 3), "mono8"), ((4, 4, 4), "rgb8"), ((4, 4), "rgb8"), ((4,), "mono8"), ((2, 4, 4, 3), "rgb8"), ((4, 4, 3), "yuv422")],
)
def test_wrong_ndim_or_channels_raises_shape_error(tb, fresh_ns, shape, enc):
    with pytest.raises(tb.ShapeError):
        tb.Image.from_numpy(np.zeros(shape, np.uint8), encoding=enc)
    assert tb.pool_stats()["used_slots"] == 0


@pytest.mark.parametrize("h,w", [(0, 4), (4, 0), (-1, 4), (4, -3)])
def test_zero_or_negative_dims_raise_shape_error(tb, fresh_ns, h, w):
    with pytest.raises(tb.ShapeError):
        tb.Image(h, w, "rgb8")


def test_zero_size_array_raises_shape_error(tb, fresh_ns):
    with pytest.raises(tb.ShapeError):
        tb.Image.from_numpy(np.zeros((0, 4, 3), np.uint8))


def test_object_and_structured_dtypes_raise_dtype_error(tb, fresh_ns):
    with pytest.raises(tb.DTypeError):
        tb.Image.from_numpy(np.empty((2, 2), dtype=object))
    with pytest.raises(tb.DTypeError):
        tb.Image.from_numpy(np.zeros((2, 2), dtype=[("a", np.uint8), ("b", np.uint8)]))


def test_image_larger_than_biggest_class_raises_without_allocating(tb, fresh_ns):
    before = [p["id"] for p in tb.pool_stats()["pools"]]
    with pytest.raises(tb.PayloadTooLargeError):
        tb.Image(8000, 8000, "rgb8")  # 192 MB > 64 MiB
    s = tb.pool_stats()
    assert s["used_slots"] == 0 and [p["id"] for p in s["pools"]] == before


def test_non_contiguous_and_negative_strided_arrays_are_copied(tb, fresh_ns):
    base = _pattern(10, 12, np.uint8, 3, seed=3)
    for src in (base[::2, ::3], base[::-1], base[:, ::-1, ::-1], np.asfortranarray(base), base.transpose(1, 0, 2)):
        assert not src.flags.c_contiguous
        img = tb.Image.from_numpy(src)
        assert img.encoding == "rgb8"
        np.testing.assert_array_equal(img.to_numpy(), src)


def test_from_torch_copies_values(tb, fresh_ns):
    import torch

    t = torch.arange(4 * 5 * 3, dtype=torch.uint8).reshape(4, 5, 3)
    img = tb.Image.from_torch(t)
    assert img.encoding == "rgb8" and img.data_ptr != t.data_ptr()
    np.testing.assert_array_equal(img.to_numpy(), t.numpy())
    img2 = tb.Image.from_torch(t.permute(1, 0, 2), encoding="bgr8")  # strided source
    np.testing.assert_array_equal(img2.to_numpy(), t.permute(1, 0, 2).numpy())


# -- read-only once shared ---------------------------------------------------------------------


def test_freeze_makes_earlier_and_later_views_read_only(tb, fresh_ns):
    img = tb.Image(4, 4, "mono8")
    a = img.to_numpy()
    a[:] = 7
    img.freeze()
    assert img.readonly
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0, 0] = 1
    b = img.to_numpy()
    assert not b.flags.writeable
    with pytest.raises(ValueError):
        b[0, 0] = 1
    c = np.from_dlpack(img)
    assert not c.flags.writeable
    with pytest.raises(ValueError):
        c[0, 0] = 1
    assert (img.to_numpy() == 7).all()


def test_metadata_of_shared_image_cannot_change(tb, fresh_ns):
    img = tb.Image(4, 4, "mono8")
    img.freeze()
    with pytest.raises(tb.ReadOnlyError):
        img.frame_id = "x"
    with pytest.raises(tb.ReadOnlyError):
        img.timestamp_ns = 1


# -- files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("enc", ["mono8", "mono16", "rgb8", "rgba8"])
def test_png_round_trip(tb, fresh_ns, tmp_path, enc):
    dtype, ch = ENCODINGS[enc]
    src = _pattern(9, 13, dtype, ch, seed=7)
    img = tb.Image.from_numpy(src, encoding=enc)
    path = tmp_path / f"{enc}.png"
    img.save(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    back = tb.Image.from_file(path)
    assert back.encoding == enc and back.shape == img.shape
    np.testing.assert_array_equal(back.to_numpy(), src)


def test_bgr8_saved_as_png_loads_as_rgb_with_channels_swapped(tb, fresh_ns, tmp_path):
    src = _pattern(3, 4, np.uint8, 3, seed=9)
    tb.Image.from_numpy(src, encoding="bgr8").save(tmp_path / "b.png")
    back = tb.Image.from_file(tmp_path / "b.png")
    assert back.encoding == "rgb8"
    np.testing.assert_array_equal(back.to_numpy(), src[:, :, ::-1])


def test_save_unsupported_encoding_raises(tb, fresh_ns, tmp_path):
    with pytest.raises(tb.EncodingError):
        tb.Image(4, 4, "mono32f").save(tmp_path / "f.png")


def _seg(marker, payload):
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def _tiny_gray_jpeg():
    """A hand-coded baseline 8x16 grayscale JPEG: left 8x8 block 64, right block 192 (DC only,
    unit quantisation, minimal Huffman tables) — no JPEG writer is installed."""
    dqt = _seg(0xDB, b"\x00" + b"\x01" * 64)
    sof = _seg(0xC0, bytes([8]) + struct.pack(">HH", 8, 16) + bytes([1, 1, 0x11, 0]))
    dc = _seg(0xC4, bytes([0x00]) + bytes([0, 2] + [0] * 14) + bytes([10, 11]))
    ac = _seg(0xC4, bytes([0x10]) + bytes([1] + [0] * 15) + bytes([0]))
    sos = _seg(0xDA, bytes([1, 1, 0x00, 0, 63, 0]))
    # DC of a flat block is 8 * (v - 128): -512 (category 10), then a diff of +1024 (category 11).
    bits = "00" + format(-512 + 1023, "010b") + "0" + "01" + format(1024, "011b") + "0"
    bits += "1" * (-len(bits) % 8)
    data = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)).replace(b"\xff", b"\xff\x00")
    return b"\xff\xd8" + dqt + sof + dc + ac + sos + data + b"\xff\xd9"


def test_jpeg_file_loads(tb, fresh_ns, tmp_path):
    path = tmp_path / "g.jpg"
    path.write_bytes(_tiny_gray_jpeg())
    img = tb.Image.from_file(path)
    assert (img.encoding, img.shape) == ("mono8", (8, 16))
    a = img.to_numpy().astype(int)
    assert np.abs(a[:, :8] - 64).max() <= 1 and np.abs(a[:, 8:] - 192).max() <= 1


def test_missing_or_corrupt_file_raises_image_io_error(tb, fresh_ns, tmp_path):
    with pytest.raises(tb.ImageIOError):
        tb.Image.from_file(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(tb.ImageIOError):
        tb.Image.from_file(bad)
    assert tb.pool_stats()["used_slots"] == 0
