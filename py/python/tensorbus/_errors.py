"""Exception hierarchy of tensorbus.

Every error raised by tensorbus derives from :class:`TensorbusError`; specific subclasses also
derive from the builtin that reads naturally (``TimeoutError``, ``ValueError``, ``TypeError``,
``BufferError``, ``MemoryError``), so ``except ValueError`` keeps working for callers that do not
know tensorbus.
"""


class TensorbusError(Exception):
    """Root of every tensorbus error."""


class SegmentError(TensorbusError, OSError):
    """A shared-memory segment could not be created or opened (I/O, permissions, corrupt file)."""


class LayoutMismatchError(SegmentError):
    """A segment was written by an incompatible tensorbus build (magic, version or layout hash)."""


class ShmFullError(SegmentError, MemoryError):
    """Not enough shared memory (e.g. Docker's 64 MB /dev/shm); the message names the size needed."""


class PoolExhaustedError(TensorbusError):
    """Every slot of the size class is held; the message names who holds them."""


class AcquireTimeoutError(PoolExhaustedError, TimeoutError):
    """No slot became free within the timeout."""


class PayloadTooLargeError(TensorbusError, ValueError):
    """The payload exceeds the largest pool size class."""


class StaleDescriptorError(TensorbusError, ValueError):
    """The slot a descriptor names was recycled since it was sent (a miss, never wrong data)."""


class InvalidDescriptorError(TensorbusError, ValueError):
    """A descriptor read from shared memory has out-of-range fields."""


class ShapeError(TensorbusError, ValueError):
    """Wrong number of dimensions, channels, zero or negative sizes, or a size mismatch."""


class DTypeError(TensorbusError, TypeError):
    """Unsupported element type, or a dtype that does not match the encoding."""


class EncodingError(TensorbusError, ValueError):
    """Unknown pixel encoding, or one that cannot be inferred from the array."""


class FrameIdError(TensorbusError, ValueError):
    """A frame id longer than 31 bytes of UTF-8."""


class ReadOnlyError(TensorbusError, BufferError):
    """A write to a payload that was sent or received (shared payloads are read-only)."""


class DLPackError(TensorbusError, BufferError):
    """A DLPack request or producer that tensorbus cannot honour (version, device, copy, strides)."""


class TopicError(TensorbusError):
    """A topic could not be opened (bad name, too many subscribers)."""


class TopicTypeError(TopicError, TypeError):
    """A topic exists with another message type; the message names both."""


class SendTimeoutError(TensorbusError, TimeoutError):
    """A reliable send waited too long for the slowest subscriber."""


class ImageIOError(TensorbusError, OSError):
    """An image file could not be read or written."""


class CudaError(TensorbusError, RuntimeError):
    """A CUDA request that cannot be honoured: no CUDA driver, no device, a device index out of
    range, out of device memory (or device pool slots), a bad stream argument, a driver error."""


__all__ = [name for name in dir() if name.endswith("Error")]
