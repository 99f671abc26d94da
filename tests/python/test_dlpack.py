"""The DLPack protocol both ways: export (`__dlpack__` options, read-only flag, consumers) and
import (`Tensor.from_dlpack` from real and hand-built producers) (binding: py/src/dlpack.rs)."""

import ctypes

import numpy as np
import pytest

# -- a hand-built producer (ctypes), to reach the validation paths real libraries never hit ---


class _Device(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", _Device),
        ("ndim", ctypes.c_int32),
        ("dtype", _DType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class _Managed(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_LEGACY = b"dltensor"


class FakeProducer:
    """A legacy-capsule producer over a float32 buffer; fields can be corrupted at will."""

    def __init__(self, values, device=(1, 0), ndim=None, shape=None, strides=None, code=2, bits=32, null_shape=False, name=_LEGACY):
        self.buf = np.ascontiguousarray(values, dtype=np.float32)
        shape = list(self.buf.shape) if shape is None else shape
        self.shape = (ctypes.c_int64 * max(len(shape), 1))(*shape)
        self.strides = None if strides is None else (ctypes.c_int64 * len(strides))(*strides)
        t = _DLTensor(
            data=self.buf.ctypes.data,
            device=_Device(*device),
            ndim=len(shape) if ndim is None else ndim,
            dtype=_DType(code, bits, 1),
            shape=None if null_shape else self.shape,
            strides=self.strides,
            byte_offset=0,
        )
        self.managed = _Managed(dl_tensor=t, manager_ctx=None, deleter=None)
        self.name = name
        self.calls = []

    def __dlpack__(self, **kwargs):
        self.calls.append(kwargs)
        return _capsule_new(ctypes.addressof(self.managed), self.name, None)

    def __dlpack_device__(self):
        return (self.managed.dl_tensor.device.device_type, self.managed.dl_tensor.device.device_id)


def test_fake_producer_on_the_cpu_is_imported(tb, fresh_ns):
    # Proves the fake is well-formed, so the refusals below are about the field under test.
    src = np.arange(12, dtype=np.float32).reshape(3, 4)
    p = FakeProducer(src)
    t = tb.Tensor.from_dlpack(p)
    np.testing.assert_array_equal(t.to_numpy(), src)
    assert p.calls and p.calls[0].get("max_version") == (1, 0)


def test_fake_producer_with_strides_is_gathered(tb, fresh_ns):
    src = np.arange(12, dtype=np.float32).reshape(3, 4)
    p = FakeProducer(src, shape=[4, 3], strides=[1, 4])  # the transpose
    np.testing.assert_array_equal(tb.Tensor.from_dlpack(p).to_numpy(), src.T)


@pytest.mark.parametrize("device", [(2, 0), (2, 1), (10, 0)], ids=["cuda0", "cuda1", "rocm"])
def test_producer_on_another_device_raises_dlpack_error(tb, fresh_ns, device):
    with pytest.raises(tb.DLPackError, match="device"):
        tb.Tensor.from_dlpack(FakeProducer(np.zeros(4), device=device))
    assert tb.pool_stats()["used_slots"] == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(ndim=-1),
        dict(ndim=9, shape=[1] * 9),
        dict(null_shape=True),
        dict(shape=[-4]),
        dict(code=5, bits=64),  # complex
        dict(code=2, bits=24),
        dict(device=(999, 0)),
        dict(shape=[2**40, 2**40]),
    ],
    ids=["ndim<0", "ndim>8", "null-shape", "neg-dim", "complex", "f24", "unknown-device", "overflow"],
)
def test_invalid_producer_fields_raise_dlpack_error(tb, fresh_ns, kwargs):
    with pytest.raises(tb.DLPackError):
        tb.Tensor.from_dlpack(FakeProducer(np.zeros(4), **kwargs))
    assert tb.pool_stats()["used_slots"] == 0


def test_producer_returning_a_foreign_capsule_raises_dlpack_error(tb, fresh_ns):
    with pytest.raises(tb.DLPackError):
        tb.Tensor.from_dlpack(FakeProducer(np.zeros(4), name=b"not_a_dltensor"))


@pytest.mark.parametrize("obj", [42, "abc", [1, 2, 3], object()], ids=["int", "str", "list", "object"])
def test_object_without_dlpack_raises_dlpack_error(tb, fresh_ns, obj):
    with pytest.raises(tb.DLPackError, match="__dlpack__"):
        tb.Tensor.from_dlpack(obj)


# -- real producers --------------------------------------------------------------------------


def test_from_dlpack_of_numpy_torch_and_jax(tb, fresh_ns):
    import jax.numpy as jnp
    import torch

    src = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for prod in (src, torch.from_numpy(src.copy()), jnp.asarray(src)):
        t = tb.Tensor.from_dlpack(prod)
        assert t.shape == (2, 3, 4) and t.dtype == "float32"
        np.testing.assert_array_equal(t.to_numpy(), src)


def test_from_dlpack_copies_strided_sources(tb, fresh_ns):
    import torch

    src = np.arange(60, dtype=np.int16).reshape(5, 12)
    for view in (src[:, ::3], src.T, src[1:4, 2:7]):
        np.testing.assert_array_equal(tb.Tensor.from_dlpack(view).to_numpy(), view)
    tt = torch.arange(60).reshape(5, 12)
    for view in (tt.T, tt[:, 1::2], tt.unsqueeze(0).expand(3, 5, 12)):
        np.testing.assert_array_equal(tb.Tensor.from_dlpack(view).to_numpy(), view.numpy())


def test_from_dlpack_copies_negatively_strided_numpy(tb, fresh_ns):
    src = np.arange(12, dtype=np.float64).reshape(3, 4)[::-1, ::-1]
    np.testing.assert_array_equal(tb.Tensor.from_dlpack(src).to_numpy(), src)


def test_from_dlpack_of_a_pool_payload_copies_into_a_new_slot(tb, fresh_ns):
    a = tb.Tensor.from_numpy(np.arange(8, dtype=np.uint8))
    a.freeze()
    b = tb.Tensor.from_dlpack(a)
    assert b.slot != a.slot and b.data_ptr != a.data_ptr
    np.testing.assert_array_equal(b.to_numpy(), np.arange(8))
    assert tb.pool_stats()["used_slots"] == 2


# -- export options --------------------------------------------------------------------------


def _shared(tb):
    t = tb.Tensor.from_numpy(np.arange(6, dtype=np.float32))
    t.freeze()
    return t


def test_dlpack_device_is_cpu(tb, fresh_ns):
    assert _shared(tb).__dlpack_device__() == (1, 0)


def test_versioned_capsule_only_when_asked(tb, fresh_ns):
    t = _shared(tb)
    assert "dltensor_versioned" in repr(t.__dlpack__(max_version=(1, 0)))
    assert "dltensor_versioned" in repr(t.__dlpack__(max_version=(1, 5)))
    legacy = repr(t.__dlpack__())
    assert '"dltensor"' in legacy
    assert '"dltensor"' in repr(t.__dlpack__(max_version=(0, 8)))


@pytest.mark.parametrize("kwargs", [dict(max_version=(-1, 0)), dict(max_version="1.0"), dict(max_version=(1,))], ids=["negative", "str", "short"])
def test_bad_max_version_raises_dlpack_error(tb, fresh_ns, kwargs):
    with pytest.raises(tb.DLPackError):
        _shared(tb).__dlpack__(**kwargs)


@pytest.mark.parametrize("dev", [(2, 0), (1, 1), (13, 0)])
def test_other_dl_device_raises_dlpack_error(tb, fresh_ns, dev):
    with pytest.raises(tb.DLPackError) as e:
        _shared(tb).__dlpack__(dl_device=dev)
    assert isinstance(e.value, BufferError)


def test_copy_true_raises_buffer_error(tb, fresh_ns):
    t = _shared(tb)
    with pytest.raises(BufferError):
        t.__dlpack__(copy=True)
    with pytest.raises(tb.DLPackError):
        t.__dlpack__(max_version=(1, 0), copy=True)
    t.__dlpack__(copy=False)
    t.__dlpack__(dl_device=(1, 0), copy=None)


def test_stream_must_be_none_or_int(tb, fresh_ns):
    t = _shared(tb)
    t.__dlpack__(stream=None)
    t.__dlpack__(stream=-1)
    with pytest.raises(tb.DLPackError):
        t.__dlpack__(stream="default")


def test_numpy_consumer_sees_read_only_flag_of_shared_payload(tb, fresh_ns):
    loaned = tb.Tensor((3,), "float32")
    w = np.from_dlpack(loaned)
    assert w.flags.writeable and w.ctypes.data == loaned.data_ptr
    w[:] = 4
    shared = _shared(tb)
    r = np.from_dlpack(shared)
    assert not r.flags.writeable and r.ctypes.data == shared.data_ptr
    with pytest.raises(ValueError):
        r[0] = 1


def test_unconsumed_capsules_release_their_hold(tb, fresh_ns):
    import gc

    t = _shared(tb)
    caps = [t.__dlpack__(), t.__dlpack__(max_version=(1, 0))]
    del t
    gc.collect()
    assert tb.pool_stats()["used_slots"] == 1, "unconsumed capsules keep the slot"
    del caps
    gc.collect()
    assert tb.pool_stats()["used_slots"] == 0


def test_torch_and_jax_consume_capsules_without_copy(tb, fresh_ns):
    import jax.numpy as jnp
    import torch

    for p in (tb.Tensor((5, 5), "int32"), _shared(tb)):
        assert torch.from_dlpack(p).data_ptr() == p.data_ptr
        assert torch.utils.dlpack.from_dlpack(p.__dlpack__()).data_ptr() == p.data_ptr
        assert jnp.from_dlpack(p).unsafe_buffer_pointer() == p.data_ptr
