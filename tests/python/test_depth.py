"""tb.DepthImage: float32 metres / uint16 millimetres, zero-copy, bad input (binding: py/src/image.rs)."""

import numpy as np
import pytest


@pytest.mark.parametrize("dtype,unit", [("float32", "m"), ("uint16", "mm")])
def test_depth_views_share_the_slot_pointer(tb, fresh_ns, dtype, unit):
    import jax.numpy as jnp
    import torch

    d = tb.DepthImage(30, 40, dtype=dtype)
    assert d.unit == unit and (d.height, d.width) == (30, 40) and d.dtype == dtype
    assert d.data_ptr % 256 == 0
    assert d.to_numpy().ctypes.data == d.data_ptr
    assert d.to_torch().data_ptr() == d.data_ptr
    assert d.to_jax().unsafe_buffer_pointer() == d.data_ptr
    assert np.from_dlpack(d).ctypes.data == d.data_ptr
    assert torch.from_dlpack(d).data_ptr() == d.data_ptr
    assert jnp.from_dlpack(d).unsafe_buffer_pointer() == d.data_ptr


def test_default_dtype_is_float32_metres(tb, fresh_ns):
    d = tb.DepthImage(2, 3)
    assert (d.dtype, d.unit, d.shape) == ("float32", "m", (2, 3))


@pytest.mark.parametrize("dtype", [np.float32, np.uint16])
def test_from_numpy_round_trips(tb, fresh_ns, dtype):
    src = (np.arange(20 * 30) % 5000).astype(dtype).reshape(20, 30)
    d = tb.DepthImage.from_numpy(src)
    np.testing.assert_array_equal(d.to_numpy(), src)
    np.testing.assert_array_equal(d.to_torch().numpy(), src)
    np.testing.assert_array_equal(tb.DepthImage.from_numpy(src[::-1, ::2]).to_numpy(), src[::-1, ::2])


def test_dtype_torch_and_numpy_spellings(tb, fresh_ns):
    import torch

    assert tb.DepthImage(2, 2, dtype=np.uint16).unit == "mm"
    assert tb.DepthImage(2, 2, dtype=np.dtype("float32")).unit == "m"
    assert tb.DepthImage(2, 2, dtype=torch.uint16).unit == "mm"


@pytest.mark.parametrize("dtype", ["float64", "uint8", "int16"])
def test_other_dtypes_raise_dtype_error(tb, fresh_ns, dtype):
    with pytest.raises(tb.DTypeError):
        tb.DepthImage(2, 2, dtype=dtype)
    with pytest.raises(tb.DTypeError):
        tb.DepthImage.from_numpy(np.zeros((2, 2), dtype))


@pytest.mark.parametrize("shape", [(4,), (4, 4, 1), (0, 4), (2, 2, 2, 2)])
def test_bad_shapes_raise_shape_error(tb, fresh_ns, shape):
    with pytest.raises(tb.ShapeError):
        tb.DepthImage.from_numpy(np.zeros(shape, np.float32))
    assert tb.pool_stats()["used_slots"] == 0


def test_negative_dims_raise_shape_error(tb, fresh_ns):
    with pytest.raises(tb.ShapeError):
        tb.DepthImage(-2, 4)


def test_frozen_depth_is_read_only(tb, fresh_ns):
    d = tb.DepthImage(4, 4)
    a = d.to_numpy()
    d.freeze()
    with pytest.raises(ValueError):
        a[0, 0] = 1.0
    with pytest.raises(tb.ReadOnlyError):
        d.frame_id = "depth"


def test_as_tensor_is_a_view_of_the_same_slot(tb, fresh_ns):
    d = tb.DepthImage.from_numpy(np.full((3, 5), 2.5, np.float32))
    t = d.as_tensor()
    assert isinstance(t, tb.Tensor) and d.readonly
    assert (t.data_ptr, t.slot, t.shape, t.dtype) == (d.data_ptr, d.slot, (3, 5), "float32")
    assert (t.to_numpy() == 2.5).all()
