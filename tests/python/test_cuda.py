"""tb.cuda (py/src/cuda.rs, device.rs, cuda_payload.rs): availability, pinning, device staging, GPU DLPack, the way back.

The no-driver behaviour runs everywhere; tests marked ``gpu`` skip themselves without a device.
"""

import numpy as np
import pytest
import tensorbus as tb
from _children import env_for, run_python

HAS_CUDA = tb.cuda.is_available()
no_driver = pytest.mark.skipif(HAS_CUDA, reason="checks the behaviour without a CUDA driver")


def _frame(h=48, w=64):
    return np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)


# --- everywhere -------------------------------------------------------------------------------


def test_cuda_module_is_public():
    assert "cuda" in tb.__all__
    assert tb.cuda.CudaPayload is tb._native.CudaPayload
    assert issubclass(tb.CudaError, tb.TensorbusError) and issubclass(tb.CudaError, RuntimeError)
    assert callable(tb.Image.to_cuda) and callable(tb.Tensor.to_cupy)


def test_device_count_matches_availability():
    assert tb.cuda.is_available() == (tb.cuda.device_count() > 0)


def test_bad_device_argument_rejected():
    img = tb.Image.from_numpy(_frame())
    with pytest.raises(tb.CudaError, match="not a CUDA device"):
        img.to_cuda(device="cpu")
    with pytest.raises(tb.CudaError, match="device must be"):
        img.to_cuda(device=1.5)


def test_bad_stream_argument_rejected():
    img = tb.Image.from_numpy(_frame())
    with pytest.raises(tb.CudaError, match="bad CUDA stream"):
        img.to_cuda(stream="fast")
    with pytest.raises(tb.CudaError, match="bad CUDA stream"):
        img.to_cuda(stream=-5)


def test_from_device_rejects_host_arrays():
    with pytest.raises(tb.DLPackError, match="expected a CUDA tensor"):
        tb.cuda.from_device(np.zeros(4, np.float32))
    with pytest.raises(tb.DLPackError, match="not a DLPack producer"):
        tb.cuda.from_device([1, 2, 3])


@no_driver
def test_no_driver_reports_nothing():
    assert tb.cuda.is_available() is False
    assert tb.cuda.device_count() == 0
    assert tb.cuda.unpin_all() == 0


@no_driver
def test_to_cuda_without_driver_raises_and_leaves_payload_loaned():
    img = tb.Image.from_numpy(_frame())
    with pytest.raises(tb.CudaError, match="no CUDA (driver|device)"):
        img.to_cuda()
    with pytest.raises(tb.CudaError, match="no CUDA (driver|device)"):
        tb.cuda.to_cuda(img, device=0)
    assert not img.readonly  # failed before freezing


@no_driver
@pytest.mark.parametrize("call", ["pin_all", "pin_one", "device_name", "pool_usage"])
def test_driver_calls_without_driver_raise(call):
    img = tb.Image.from_numpy(_frame())
    fn = {
        "pin_all": lambda: tb.cuda.pin(),
        "pin_one": lambda: tb.cuda.pin(img),
        "device_name": lambda: tb.cuda.device_name(0),
        "pool_usage": lambda: tb.cuda.pool_usage(),
    }[call]
    with pytest.raises(tb.CudaError, match="no CUDA (driver|device)"):
        fn()
    assert tb.cuda.is_pinned(img) is False


class _FakeCudaProducer:
    """Says it lives on CUDA device 0; records whether anyone asked it for a capsule."""

    def __init__(self):
        self.exported = False

    def __dlpack_device__(self):
        return (2, 0)

    def __dlpack__(self, **kwargs):
        self.exported = True
        raise AssertionError("no capsule may be requested without a CUDA device")


@no_driver
def test_cuda_producer_without_driver_is_refused_before_export():
    fake = _FakeCudaProducer()
    with pytest.raises(tb.DLPackError, match="no CUDA driver or device"):
        tb.Tensor.from_dlpack(fake)
    with pytest.raises(tb.CudaError, match="no CUDA (driver|device)"):
        tb.cuda.from_device(fake)
    assert not fake.exported


def test_auto_pin_env_keeps_exports_working():
    """With TENSORBUS_CUDA_PIN=1 the export hooks pin first; without a driver they still export."""
    code = (
        "import numpy as np, tensorbus as tb\n"
        "img = tb.Image.from_numpy(np.ones((8, 8, 3), np.uint8)); img.freeze()\n"
        "a = np.from_dlpack(img)\n"
        "assert a.sum() == 192 and tb.cuda.pin_from_env()\n"
        "assert tb.cuda.is_pinned(img) == tb.cuda.is_available()\n"
        "print('ok')\n"
    )
    out = run_python(code, env=env_for(TENSORBUS_CUDA_PIN="1"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --- on a GPU ---------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA driver or device on this machine")
def test_device_index_out_of_range():
    img = tb.Image.from_numpy(_frame())
    with pytest.raises(tb.CudaError, match="out of range"):
        img.to_cuda(device=tb.cuda.device_count())


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA driver or device on this machine")
def test_pinned_to_torch_is_pinned():
    torch = pytest.importorskip("torch")
    img = tb.Image.from_numpy(_frame())
    img.freeze()
    assert tb.cuda.pin(img) >= 0
    assert tb.cuda.is_pinned(img)
    t = img.to_torch()
    assert t.device.type == "cpu" and img.__dlpack_device__() == (1, 0)
    assert t.is_pinned()
    g = t.cuda(non_blocking=True)
    torch.cuda.synchronize()
    assert torch.equal(g.cpu(), t)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA driver or device on this machine")
def test_pin_whole_namespace(fresh_ns):
    tb.Image.from_numpy(_frame())  # map a pool
    tb.cuda.pin()
    img = tb.Image.from_numpy(_frame())
    assert tb.cuda.is_pinned(img)
    assert tb.cuda.unpin_all() >= 1
    assert not tb.cuda.is_pinned(img)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA driver or device on this machine")
def test_to_cuda_torch_zero_copy():
    torch = pytest.importorskip("torch")
    frame = _frame()
    d = tb.Image.from_numpy(frame).to_cuda(device=0)
    assert d.__dlpack_device__() == (2, 0)
    assert d.shape == frame.shape and d.dtype == "uint8" and d.nbytes == frame.nbytes
    t = torch.from_dlpack(d)
    assert t.is_cuda and t.data_ptr() == d.data_ptr
    assert np.array_equal(t.cpu().numpy(), frame)
    t2 = d.to_torch()
    assert t2.data_ptr() == d.data_ptr


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA driver or device on this machine")
def test_to_cuda_holds_host_until_copy_done():
    img = tb.Image.from_numpy(_frame())
    d = img.to_cuda()
    assert img.readonly  # frozen: the device copy reads immutable memory
    d.synchronize()
    assert d.ready and not d.holds_host


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA driver or device on this machine")
def test_host_hold_released_when_copy_completes_without_asking():
    torch = pytest.importorskip("torch")
    img = tb.Image.from_numpy(_frame())
    d = img.to_cuda()
    # Nobody calls ready()/synchronize() on `d`: the host function queued behind the copy
    # drops the hold once the DMA is done; a device-wide sync waits for it to have run.
    torch.cuda.synchronize()
    assert not d.holds_host


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA driver or device on this machine")
def test_to_cuda_cupy_zero_copy():
    cp = pytest.importorskip("cupy")
    frame = _frame()
    d = tb.Image.from_numpy(frame).to_cuda()
    a = cp.from_dlpack(d)
    assert a.data.ptr == d.data_ptr
    assert np.array_equal(cp.asnumpy(a), frame)
    assert np.array_equal(cp.asnumpy(tb.Image.from_numpy(frame).to_cupy()), frame)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA driver or device on this machine")
def test_to_cuda_jax_zero_copy():
    jax = pytest.importorskip("jax")
    if not any(dev.platform == "gpu" for dev in jax.devices()):
        pytest.skip("jax has no GPU backend here")
    frame = _frame()
    d = tb.Image.from_numpy(frame).to_cuda()
    j = d.to_jax()
    assert j.unsafe_buffer_pointer() == d.data_ptr
    assert np.array_equal(np.asarray(j), frame)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA driver or device on this machine")
def test_stream_argument():
    torch = pytest.importorskip("torch")
    frame = _frame()
    copy_stream, consumer = torch.cuda.Stream(), torch.cuda.Stream()
    d = tb.Image.from_numpy(frame).to_cuda(stream=copy_stream)
    assert d.stream == copy_stream.cuda_stream
    with torch.cuda.stream(consumer):
        t = torch.from_dlpack(d)  # consumer waits on our copy event
        s = (t.to(torch.int64).sum()).item()
    assert s == int(frame.astype(np.int64).sum())
    with pytest.raises(tb.CudaError, match="0 is ambiguous"):
        d.__dlpack__(stream=0)
    with pytest.raises(tb.DLPackError):
        d.__dlpack__(dl_device=(1, 0))


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA driver or device on this machine")
def test_device_pool_reuses_buffers():
    frame = _frame()
    tb.Image.from_numpy(frame).to_cuda().synchronize()
    before = tb.cuda.pool_usage()
    for _ in range(20):
        d = tb.Image.from_numpy(frame).to_cuda()
        del d
    assert tb.cuda.pool_usage() == before  # same classes, same totals, all returned


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA driver or device on this machine")
def test_device_pool_exhaustion_is_an_error():
    frame = _frame()
    held = []
    with pytest.raises(tb.CudaError, match="buffers .* are held"):
        for _ in range(4096):
            held.append(tb.Image.from_numpy(frame).to_cuda())
    held.clear()


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA driver or device on this machine")
def test_round_trip_device_to_pool_slot():
    torch = pytest.importorskip("torch")
    g = torch.arange(12, dtype=torch.float32, device="cuda").reshape(3, 4) * 2
    back = tb.cuda.from_device(g)
    assert isinstance(back, tb.Tensor) and back.shape == (3, 4) and back.dtype == "float32"
    assert np.array_equal(back.to_numpy(), g.cpu().numpy())
    frame = _frame()
    again = tb.cuda.from_device(tb.Image.from_numpy(frame).to_cuda())
    assert np.array_equal(again.to_numpy(), frame)
    with pytest.raises(tb.DLPackError, match="not contiguous"):
        tb.cuda.from_device(g.t())
