"""Type stubs of ``tensorbus._native.cuda`` (re-exported by ``tensorbus.cuda``).

Everything works without CUDA: ``is_available()`` is False, ``device_count()`` is 0, and every
call that needs the GPU raises :class:`tensorbus.CudaError` naming the cause.
"""
from typing import Any, Optional, Union, final

from . import Payload, Tensor

__all__ = [
    "is_available",
    "device_count",
    "device_name",
    "pin",
    "_auto_pin",
    "is_pinned",
    "unpin_all",
    "pool_usage",
    "to_cuda",
    "from_device",
    "CudaPayload",
]

_Device = Union[int, str, Any, None]
_Stream = Union[int, Any, None]

def is_available() -> bool:
    """True if a CUDA driver is loaded and reports at least one device (never raises)."""

def device_count() -> int:
    """The number of CUDA devices (0 without a driver; never raises)."""

def device_name(device: _Device = None) -> str:
    """The name of ``device`` (an index, ``"cuda"``, ``"cuda:N"`` or a ``torch.device``).

    Raises:
        CudaError: no driver, no device, or the index is out of range.
    """

def pin(payload: Optional[Payload] = None) -> int:
    """Page-lock pool memory: the mapping holding ``payload``, or every pool segment of the
    current namespace this process has mapped; returns the bytes newly pinned.

    Raises:
        CudaError: no CUDA driver, or the driver refused the registration.
    """

def _auto_pin(payload: Payload) -> bool: ...
def is_pinned(payload: Payload) -> bool:
    """True if ``payload``'s memory is page-locked (registered by this process)."""

def unpin_all() -> int:
    """Unregister every range this process pinned; returns how many (registered at exit)."""

def pool_usage(device: _Device = None) -> list[tuple[int, int, int]]:
    """``[(size, total, free)]`` of the device pool's size classes on ``device``.

    Raises:
        CudaError: no driver or no such device.
    """

def to_cuda(payload: Payload, device: _Device = None, stream: _Stream = None) -> "CudaPayload":
    """``payload.to_cuda(device, stream)``: copy it into a buffer of the device pool.

    Raises:
        CudaError: no driver, no device, index out of range, bad stream, out of device memory.
    """

def from_device(obj: Any) -> Tensor:
    """Copy a CUDA array (torch, CuPy, JAX, :class:`CudaPayload`) into a new, loaned pool
    :class:`Tensor` (the way back, ready to send).

    Raises:
        DLPackError: ``obj`` is not a CUDA DLPack producer, or not contiguous.
        CudaError: no driver or a driver failure.
    """

@final
class CudaPayload:
    """A payload copied to a CUDA device buffer (``Payload.to_cuda()``), exported with a CUDA
    DLPack capsule; the consumer's stream waits on the copy (array API stream semantics).

    Example:
        >>> t = img.to_cuda().to_torch()
    """

    def __dlpack__(
        self,
        *,
        stream: Optional[int] = None,
        max_version: Optional[tuple[int, int]] = None,
        dl_device: Optional[tuple[int, int]] = None,
        copy: Optional[bool] = None,
    ) -> Any:
        """The DLPack protocol for a CUDA producer: ``stream`` is the consumer's stream (None:
        legacy default, 1 legacy, 2 per-thread, -1 no synchronization; 0 is refused).

        Raises:
            CudaError: a bad stream.
            DLPackError: ``copy=True``, another ``dl_device``, or a malformed ``max_version``.
        """
    def __dlpack_device__(self) -> tuple[int, int]:
        """``(2, device_index)``: CUDA device memory."""
    def to_torch(self) -> Any:
        """A torch CUDA tensor on the device buffer (no copy)."""
    def to_cupy(self) -> Any:
        """A CuPy array on the device buffer (no copy)."""
    def to_jax(self) -> Any:
        """A JAX array from the device buffer (``jax.dlpack.from_dlpack``)."""
    def synchronize(self) -> None:
        """Block until the host-to-device copy has completed (and release the host slot)."""
    @property
    def ready(self) -> bool:
        """True once the copy has completed (the host slot is then released)."""
    @property
    def holds_host(self) -> bool:
        """True while the source pool slot is still held (the copy may be in flight)."""
    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def dtype(self) -> str: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def device(self) -> int:
        """Device index."""
    @property
    def data_ptr(self) -> int:
        """Device address of the buffer."""
    @property
    def stream(self) -> int:
        """The stream handle the copy was queued on."""
    @property
    def timestamp_ns(self) -> int: ...
    @property
    def seq(self) -> int: ...
