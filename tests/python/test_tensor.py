"""tb.Tensor: every dtype round trips through NumPy and torch, bad input, size limits
(binding: py/src/tensor.rs, array.rs)."""

import ml_dtypes
import numpy as np
import pytest

DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "bool", "bfloat16"]


def _np_dtype(name):
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def _sample(name, shape=(3, 5, 7)):
    n = int(np.prod(shape))
    if name == "bool":
        return (np.arange(n) % 3 == 0).reshape(shape)
    dt = _np_dtype(name)
    if name == "bfloat16" or dt.kind == "f":
        return (np.arange(n) * 0.5 - 7).astype(dt).reshape(shape)
    info = np.iinfo(dt)
    vals = np.random.default_rng(n).integers(info.min, info.max, size=n, dtype=dt, endpoint=True)
    vals[:2] = (info.min, info.max)
    return vals.reshape(shape)


@pytest.mark.parametrize("name", DTYPES)
def test_every_dtype_round_trips_numpy(tb, fresh_ns, name):
    src = _sample(name)
    t = tb.Tensor.from_numpy(src)
    assert t.dtype == name and t.shape == src.shape and t.nbytes == src.nbytes
    out = t.to_numpy()
    assert out.dtype == src.dtype
    assert out.ctypes.data == t.data_ptr
    np.testing.assert_array_equal(out.view(np.uint8), src.view(np.uint8))


@pytest.mark.parametrize("name", DTYPES)
def test_every_dtype_round_trips_torch(tb, fresh_ns, name):

    src = _sample(name)
    t = tb.Tensor.from_numpy(src)
    tt = t.to_torch()
    assert str(tt.dtype) == "torch." + name
    assert tt.data_ptr() == t.data_ptr and tuple(tt.shape) == src.shape
    back = tb.Tensor.from_torch(tt)
    assert back.dtype == name and back.data_ptr != t.data_ptr
    np.testing.assert_array_equal(back.to_numpy().view(np.uint8), src.view(np.uint8))


@pytest.mark.parametrize("name", DTYPES)
def test_loaned_tensor_of_every_dtype(tb, fresh_ns, name):
    t = tb.Tensor((4, 6), name)
    a = t.to_numpy()
    assert a.dtype == _np_dtype(name) and a.shape == (4, 6) and a.flags.writeable
    a[:] = _sample(name, (4, 6))
    np.testing.assert_array_equal(t.to_numpy().view(np.uint8), _sample(name, (4, 6)).view(np.uint8))


def test_tensor_views_share_the_slot_pointer(tb, fresh_ns):
    import jax.numpy as jnp
    import torch

    t = tb.Tensor((16, 16, 3), "float32")
    assert t.data_ptr % 256 == 0
    assert t.to_numpy().ctypes.data == t.data_ptr
    assert t.to_torch().data_ptr() == t.data_ptr
    assert t.to_jax().unsafe_buffer_pointer() == t.data_ptr
    assert np.from_dlpack(t).ctypes.data == t.data_ptr
    assert torch.from_dlpack(t).data_ptr() == t.data_ptr
    assert jnp.from_dlpack(t).unsafe_buffer_pointer() == t.data_ptr


def test_shape_forms_and_dtype_spellings(tb, fresh_ns):
    import torch

    assert tb.Tensor(5).shape == (5,)
    assert tb.Tensor([2, 3]).shape == (2, 3)
    assert tb.Tensor((1,) * 8).ndim == 8
    assert len(tb.Tensor((7, 2))) == 7
    assert tb.Tensor(3, np.int16).dtype == "int16"
    assert tb.Tensor(3, np.dtype("uint32")).dtype == "uint32"
    assert tb.Tensor(3, torch.bfloat16).dtype == "bfloat16"
    assert tb.Tensor(3).dtype == "float32"


@pytest.mark.parametrize("shape", [(), (1,) * 9, (0,), (3, 0), (-1,), (2, -5), "abc"])
def test_bad_shapes_raise_shape_error(tb, fresh_ns, shape):
    with pytest.raises(tb.ShapeError):
        tb.Tensor(shape)


@pytest.mark.parametrize("arr", [np.float32(1.0), np.zeros((0, 3)), np.zeros((1,) * 9)], ids=["0d", "empty", "9d"])
def test_bad_array_shapes_raise_shape_error(tb, fresh_ns, arr):
    with pytest.raises(tb.ShapeError):
        tb.Tensor.from_numpy(np.asarray(arr))
    assert tb.pool_stats()["used_slots"] == 0


@pytest.mark.parametrize("dtype", ["complex64", "nope", "float8"])
def test_unknown_dtype_names_raise_dtype_error(tb, fresh_ns, dtype):
    with pytest.raises(tb.DTypeError):
        tb.Tensor(3, dtype)


@pytest.mark.parametrize(
    "arr",
    [
        np.empty(3, dtype=object),
        np.zeros(3, dtype=[("x", np.float32), ("y", np.int8)]),
        np.zeros(3, dtype=np.complex64),
        np.zeros(3, dtype="M8[s]"),
        np.zeros(3, dtype="U4"),
        np.zeros(3, dtype=">f4"),
    ],
    ids=["object", "structured", "complex", "datetime", "unicode", "big-endian"],
)
def test_unsupported_array_dtypes_raise_dtype_error(tb, fresh_ns, arr):
    with pytest.raises(tb.DTypeError):
        tb.Tensor.from_numpy(arr)
    assert tb.pool_stats()["used_slots"] == 0


def test_too_large_raises_payload_too_large_without_allocating(tb, fresh_ns):
    before = tb.pool_stats()["pools"]
    with pytest.raises(tb.PayloadTooLargeError) as e:
        tb.Tensor((20000, 20000), "float32")
    assert isinstance(e.value, ValueError)
    after = tb.pool_stats()
    assert after["used_slots"] == 0 and after["pools"] == before


def test_overflowing_shape_is_an_error_not_a_crash(tb, fresh_ns):
    with pytest.raises((tb.ShapeError, tb.PayloadTooLargeError)):
        tb.Tensor((2**31, 2**31, 2**31), "float64")
    with pytest.raises((tb.ShapeError, tb.PayloadTooLargeError)):
        tb.Tensor((2**62, 2**62))


def test_non_contiguous_and_negative_strided_arrays_are_copied(tb, fresh_ns):
    base = np.arange(6 * 8 * 4, dtype=np.int32).reshape(6, 8, 4)
    for src in (base[::2], base[:, ::-1], base[..., ::-2], base.T, np.asfortranarray(base), base[1:, 2:5, 1]):
        t = tb.Tensor.from_numpy(src)
        assert t.shape == src.shape
        np.testing.assert_array_equal(t.to_numpy(), src)


def test_from_numpy_accepts_sequences(tb, fresh_ns):
    t = tb.Tensor.from_numpy([[1, 2], [3, 4]])
    assert t.shape == (2, 2)
    np.testing.assert_array_equal(t.to_numpy(), [[1, 2], [3, 4]])


def test_from_numpy_copies_once_and_is_independent_of_the_source(tb, fresh_ns):
    src = np.arange(10, dtype=np.float64)
    t = tb.Tensor.from_numpy(src)
    assert t.data_ptr != src.ctypes.data
    src[:] = -1
    np.testing.assert_array_equal(t.to_numpy(), np.arange(10))


def test_loaned_tensor_is_writable_then_read_only_after_freeze(tb, fresh_ns):
    import torch

    t = tb.Tensor((4,), "int64")
    a = t.to_numpy()
    a[:] = [1, 2, 3, 4]
    assert not t.readonly
    t.freeze()
    assert t.readonly and not a.flags.writeable
    for view in (a, t.to_numpy(), np.from_dlpack(t)):
        with pytest.raises(ValueError):
            view[0] = 9
    assert torch.equal(t.to_torch(), torch.tensor([1, 2, 3, 4]))
    with pytest.raises(tb.ReadOnlyError):
        t.frame_id = "x"
    with pytest.raises(tb.ReadOnlyError):
        t.timestamp_ns = 5


def test_freeze_is_idempotent_and_keeps_the_slot(tb, fresh_ns):
    t = tb.Tensor((4,))
    t.to_numpy()[:] = 7
    slot, loan_ptr = t.slot, t.data_ptr
    t.freeze()
    ptr = t.data_ptr
    assert ptr != loan_ptr, "frozen, the slot is read through its read-only alias"
    t.freeze()
    assert (t.slot, t.data_ptr) == (slot, ptr)
    assert (t.to_numpy() == 7).all()
    assert tb.pool_stats()["used_slots"] == 1


def test_bfloat16_view_made_read_only_on_freeze(tb, fresh_ns):
    t = tb.Tensor((4,), "bfloat16")
    a = t.to_numpy()
    assert a.dtype == ml_dtypes.bfloat16
    t.freeze()
    with pytest.raises(ValueError):
        a[0] = 1.0


def test_as_tensor_of_image_shares_slot_and_freezes_it(tb, fresh_ns):
    img = tb.Image(4, 6, "rgb8")
    img.to_numpy()[:] = 9
    t = img.as_tensor()
    assert img.readonly and t.readonly
    assert (t.data_ptr, t.slot, t.shape, t.dtype) == (img.data_ptr, img.slot, (4, 6, 3), "uint8")
    assert (t.to_numpy() == 9).all()
    assert tb.pool_stats()["used_slots"] == 1


def test_repr_names_shape_dtype_and_state(tb, fresh_ns):
    r = repr(tb.Tensor((2, 3), "int16"))
    assert "Tensor" in r and "[2, 3]" in r and "int16" in r and "loaned" in r
