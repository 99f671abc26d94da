"""CUDA support: pinned pool memory, device staging and GPU DLPack export.

Everything here works on a machine without CUDA: ``is_available()`` is False, ``device_count()``
is 0, and every operation that needs the GPU raises :class:`tensorbus.CudaError` naming the cause
("no CUDA driver: ...").

Pinned memory
    ``pin()`` page-locks every pool segment of the namespace this process has mapped (``pin(img)``
    just the one holding ``img``), once per process, with ``cuMemHostRegister``. Tensors over
    pinned slots report ``t.is_pinned() == True`` (DLPack still says CPU: torch refuses the
    CUDAHost device type) and ``t.cuda(non_blocking=True)`` is a real asynchronous DMA.
    With ``TENSORBUS_CUDA_PIN=1`` this is automatic: ``to_torch``, ``__dlpack__`` and
    ``to_cuda`` pin a payload's pool segment the first time they see it. ``unpin_all()`` undoes
    every registration (call it before ``use_namespace`` switches away from pinned pools).

Device staging
    ``img.to_cuda(device=0, stream=None)`` (a method of every :class:`tensorbus.Payload`;
    also ``tb.cuda.to_cuda(img, ...)``) copies the payload into a buffer of a fixed-slot device pool
    (``TENSORBUS_CUDA_SLOTS`` buffers per power-of-two size class, allocated once) asynchronously
    on ``stream`` (an int handle, a ``torch.cuda.Stream`` or a CuPy stream; a private stream when
    None). The pool slot stays held until the copy completes. The result, a :class:`CudaPayload`,
    exports ``__dlpack__`` with device type CUDA: ``torch.from_dlpack``, ``cupy.from_dlpack`` and
    ``jax.dlpack.from_dlpack`` take it without a copy, and the consumer's stream waits on the copy
    (array API stream semantics).

The way back
    ``from_device(gpu_array)`` copies a CUDA tensor (torch, CuPy, JAX, CudaPayload) into a new pool
    :class:`tensorbus.Tensor`, ready to send.

Example:
    >>> import tensorbus as tb
    >>> if tb.cuda.is_available():
    ...     img = tb.Image(480, 640, "rgb8")
    ...     t = img.to_cuda().to_torch()      # torch CUDA tensor on the device buffer
"""

import atexit as _atexit
import os as _os

from . import _native
from ._errors import CudaError
from ._native import CudaPayload

_c = _native.cuda

is_available = _c.is_available
device_count = _c.device_count
device_name = _c.device_name
pin = _c.pin
is_pinned = _c.is_pinned
unpin_all = _c.unpin_all
pool_usage = _c.pool_usage
from_device = _c.from_device


def to_cuda(payload, device=0, stream=None):
    """Copy ``payload`` to a device-pool buffer on ``device``; returns a :class:`CudaPayload`.

    Args:
        payload: any pool payload (``Image``, ``Tensor``, ...). A loaned payload is frozen.
        device: an index, ``"cuda"``, ``"cuda:N"`` or a ``torch.device``.
        stream: None (a private stream), an int handle, a ``torch.cuda.Stream`` or a CuPy stream.

    Raises:
        CudaError: no CUDA driver, no device, device index out of range, bad stream, out of
            device memory or device pool buffers.
    """
    return _c.to_cuda(payload, device, stream)


def to_cupy(payload, device=0, stream=None):
    """A CuPy array on the GPU holding a copy of ``payload`` (``to_cuda(...).to_cupy()``)."""
    return payload.to_cupy(device, stream)


def pin_from_env():
    """True when ``TENSORBUS_CUDA_PIN`` asks for automatic pinning (``to_torch``, ``__dlpack__``
    and ``to_cuda`` then pin a payload's pool segment the first time they see it)."""
    return _os.environ.get("TENSORBUS_CUDA_PIN", "").strip().lower() in ("1", "true", "yes", "on")


# Unregister pinned pool memory before the namespace is unmapped at exit.
_atexit.register(_c.unpin_all)

__all__ = [
    "is_available",
    "device_count",
    "device_name",
    "pin",
    "is_pinned",
    "unpin_all",
    "pin_from_env",
    "pool_usage",
    "to_cuda",
    "to_cupy",
    "from_device",
    "CudaPayload",
    "CudaError",
]
