"""tb.PointCloud: N x 3/4/6 float32 points, zero-copy, bad input (binding: py/src/points.rs)."""

import numpy as np
import pytest


@pytest.mark.parametrize("fields,width", [("xyz", 3), ("xyzi", 4), ("xyzrgb", 6)])
def test_points_views_share_the_slot_pointer(tb, fresh_ns, fields, width):
    import jax.numpy as jnp
    import torch

    pc = tb.PointCloud(1000, fields=fields)
    assert (pc.fields, len(pc), pc.shape, pc.dtype) == (fields, 1000, (1000, width), "float32")
    assert pc.data_ptr % 256 == 0
    assert pc.to_numpy().ctypes.data == pc.data_ptr
    assert pc.to_torch().data_ptr() == pc.data_ptr
    assert pc.to_jax().unsafe_buffer_pointer() == pc.data_ptr
    assert np.from_dlpack(pc).ctypes.data == pc.data_ptr
    assert torch.from_dlpack(pc).data_ptr() == pc.data_ptr
    assert jnp.from_dlpack(pc).unsafe_buffer_pointer() == pc.data_ptr


@pytest.mark.parametrize("width,fields", [(3, "xyz"), (4, "xyzi"), (6, "xyzrgb")])
def test_from_numpy_infers_fields_and_round_trips(tb, fresh_ns, width, fields):
    src = np.random.default_rng(width).standard_normal((257, width)).astype(np.float32)
    pc = tb.PointCloud.from_numpy(src)
    assert pc.fields == fields and len(pc) == 257
    np.testing.assert_array_equal(pc.to_numpy(), src)
    np.testing.assert_array_equal(pc.to_torch().numpy(), src)


def test_from_numpy_copies_strided_sources(tb, fresh_ns):
    src = np.arange(60, dtype=np.float32).reshape(10, 6)
    for view in (src[:, :3], src[::-1, 3:], src.T.copy().T):
        np.testing.assert_array_equal(tb.PointCloud.from_numpy(view).to_numpy(), view)


def test_explicit_fields_must_match_width(tb, fresh_ns):
    with pytest.raises(tb.ShapeError):
        tb.PointCloud.from_numpy(np.zeros((5, 3), np.float32), fields="xyzi")
    with pytest.raises(tb.ShapeError):
        tb.PointCloud.from_numpy(np.zeros((5, 4), np.float32), fields="nope")


@pytest.mark.parametrize("shape", [(5, 5), (5,), (0, 3), (2, 3, 1)])
def test_bad_shapes_raise_shape_error(tb, fresh_ns, shape):
    with pytest.raises(tb.ShapeError):
        tb.PointCloud.from_numpy(np.zeros(shape, np.float32))
    assert tb.pool_stats()["used_slots"] == 0


def test_non_float32_raises_dtype_error(tb, fresh_ns):
    with pytest.raises(tb.DTypeError):
        tb.PointCloud.from_numpy(np.zeros((5, 3), np.float64))


@pytest.mark.parametrize("n", [0, -1])
def test_non_positive_count_raises_shape_error(tb, fresh_ns, n):
    with pytest.raises(tb.ShapeError):
        tb.PointCloud(n)


def test_unknown_fields_raise(tb, fresh_ns):
    with pytest.raises(tb.ShapeError):
        tb.PointCloud(4, fields="xyzw")


def test_too_many_points_raise_payload_too_large(tb, fresh_ns):
    with pytest.raises(tb.PayloadTooLargeError):
        tb.PointCloud(10_000_000, fields="xyzrgb")  # 240 MB
    assert tb.pool_stats()["used_slots"] == 0
