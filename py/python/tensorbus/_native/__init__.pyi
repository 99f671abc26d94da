"""Type stubs of the compiled module ``tensorbus._native`` (re-exported by ``tensorbus``).

A stub package (this file and ``cuda.pyi``) because the extension has a submodule, ``cuda``;
``python -m mypy.stubtest tensorbus._native`` (``make lint``) checks both against the runtime.
"""
import os
from typing import Any, AsyncIterator, ClassVar, Coroutine, Literal, Optional, Sequence, Union, final

import numpy as np
from typing_extensions import Self, disjoint_base

from . import cuda as cuda
from .cuda import CudaPayload as CudaPayload

__all__ = [
    "pool_stats",
    "reap",
    "use_namespace",
    "_shutdown",
    "_after_fork",
    "Payload",
    "Image",
    "DepthImage",
    "PointCloud",
    "Tensor",
    "Topic",
    "Scheduler",
    "WaitSet",
    "wait",
    "_watch",
    "_unwatch",
    "_aio_shutdown",
    "_Recorder",
    "_Bridge",
    "_McapReader",
    "_replay",
    "_record_info",
    "_ros2_encode",
    "_ros2_decode",
    "_ros2_twist_encode",
    "_ros2_twist_decode",
    "_ros2_type_hash",
    "budget_remaining",
    "pod_type_hash",
    "CmdVel",
    "Twist",
    "Pose2D",
    "Imu",
    "Detection",
    "Heartbeat",
    "packb",
    "unpackb",
    "cli_main",
    "cuda",
    "CudaPayload",
    "__version__",
]

__version__: str

_DTypeLike = Union[str, np.dtype, type, Any]
_Device = Union[int, str, Any, None]
_Stream = Union[int, Any, None]

@disjoint_base
class Payload:
    """Base class of pool payloads: a loaned (writable) or shared (read-only) pool slot.

    Every export is zero-copy: the array or tensor points into the slot, and keeps the slot held
    for as long as it lives.
    """

    def to_numpy(self) -> np.ndarray:
        """A NumPy view of the slot.

        Returns:
            An array sharing the slot's memory; writable while the payload is loaned, read-only
            once it is shared (sent, received or frozen): then it views a read-only mapping, so
            even a write with the flag bypassed faults.

        Example:
            >>> img = Image(480, 640, "rgb8"); img.to_numpy()[:] = 0
        """
    def to_torch(self, device: Optional[Any] = None) -> Any:
        """A ``torch.Tensor`` sharing the slot (via DLPack). ``device="cuda"`` copies to the GPU.

        torch has no read-only tensors: one of a shared payload is over read-only memory, and
        writing to it kills the process (SIGSEGV). One taken from a loan stays writable after
        the send: drop it before sending.

        Raises:
            TensorbusError: torch is not installed.
        """
    def to_jax(self) -> Any:
        """A JAX array sharing the slot (CPU; payloads are 256-byte aligned and compact)."""
    def as_tensor(self) -> "Tensor":
        """A :class:`Tensor` view of the same slot (no copy). A loaned payload is frozen first."""
    def to_cuda(self, device: _Device = None, stream: _Stream = None) -> CudaPayload:
        """Copy the payload into a buffer of the CUDA device pool (``tensorbus.cuda``).

        Args:
            device: an index, ``"cuda"``, ``"cuda:N"`` or a ``torch.device`` (None: device 0).
            stream: None (a private stream), an int handle, a ``torch.cuda.Stream`` or a CuPy
                stream. The copy is asynchronous on it; the pool slot stays held until it completes.

        Returns:
            A :class:`CudaPayload` exporting ``__dlpack__`` with device type CUDA. A loaned payload
            is frozen first.

        Raises:
            CudaError: no CUDA driver, no device, device index out of range, bad stream, out of
                device memory or device pool buffers (raised before a loaned payload is frozen).

        Example:
            >>> t = img.to_cuda().to_torch()   # a torch CUDA tensor on the device buffer
        """
    def to_cupy(self, device: _Device = None, stream: _Stream = None) -> Any:
        """A CuPy array on the GPU holding a copy of the payload (``to_cuda(...).to_cupy()``).

        Raises:
            CudaError: as :meth:`to_cuda`.
            TensorbusError: CuPy is not installed.
        """
    def freeze(self) -> None:
        """Make the payload read-only and shareable (sending does this implicitly)."""
    def __dlpack__(
        self,
        *,
        stream: Optional[int] = None,
        max_version: Optional[tuple[int, int]] = None,
        dl_device: Optional[tuple[int, int]] = None,
        copy: Optional[bool] = None,
    ) -> Any:
        """The DLPack protocol: a versioned capsule when ``max_version >= (1, 0)`` (read-only
        flag set on shared payloads), else a legacy one.

        Raises:
            DLPackError: ``copy=True``, a ``dl_device`` other than ``(1, 0)``, or a malformed
                ``max_version``.
        """
    def __dlpack_device__(self) -> tuple[int, int]:
        """``(1, 0)``: host memory."""
    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def dtype(self) -> str:
        """NumPy name of the element type, e.g. ``"uint8"``, ``"bfloat16"``."""
    @property
    def ndim(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def timestamp_ns(self) -> int:
        """Capture time in ns since the Unix epoch (defaults to the loan time; settable while loaned)."""
    @timestamp_ns.setter
    def timestamp_ns(self, value: int) -> None: ...
    @property
    def frame_id(self) -> str:
        """A short (≤ 31 bytes) frame name; settable while loaned."""
    @frame_id.setter
    def frame_id(self, value: str) -> None: ...
    @property
    def seq(self) -> int:
        """Sequence number assigned when sent (0 before)."""
    @property
    def readonly(self) -> bool:
        """True once the payload is shared."""
    @property
    def data_ptr(self) -> int:
        """Address of the payload in this process (compare with ``arr.ctypes.data``): the slot in
        the writable mapping while loaned, in the read-only mapping once shared (it changes once,
        at the freeze)."""
    @property
    def slot(self) -> tuple[int, int, int]:
        """``(pool, slot, generation)`` of the backing slot."""

_Encoding = Literal["mono8", "mono16", "rgb8", "bgr8", "rgba8", "bgra8", "yuv422", "mono32f", "rgb32f", "bayer_rggb8"]

@final
class Image(Payload):
    """An image in a pool slot.

    Args:
        height: rows (> 0).
        width: columns (> 0).
        encoding: pixel encoding (default ``"rgb8"``).

    Raises:
        ShapeError: a non-positive dimension.
        EncodingError: an unknown encoding.
        PoolExhaustedError: every slot of the size class is held (the message names who holds them).

    Example:
        >>> img = Image(480, 640, "rgb8")
        >>> img.to_numpy()[:] = frame   # fill in place, then send
    """

    def __new__(cls, height: int, width: int, encoding: _Encoding = "rgb8") -> Self: ...
    @staticmethod
    def from_numpy(arr: Any, encoding: Optional[_Encoding] = None) -> "Image":
        """Copy an H×W or H×W×C array into a new pool image (one copy).

        The encoding is inferred where unambiguous (uint8: mono8 / rgb8 / rgba8, uint16: mono16,
        float32: mono32f / rgb32f). Non-contiguous arrays are copied contiguous first.

        Raises:
            EncodingError: the encoding cannot be inferred or is unknown.
            DTypeError: the dtype does not match the encoding, or is object/structured.
            ShapeError: wrong number of dimensions or channels, or a zero dimension.
            PayloadTooLargeError: larger than the largest pool size class.
        """
    @staticmethod
    def from_torch(tensor: Any, encoding: Optional[_Encoding] = None) -> "Image":
        """Copy a torch tensor (H×W or H×W×C) into a new pool image."""
    @staticmethod
    def from_file(path: Union[str, "os.PathLike[str]"]) -> "Image":
        """Load a PNG or JPEG file into a new pool image.

        Raises:
            ImageIOError: the file cannot be read or decoded.
        """
    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Save as PNG (mono8, mono16, rgb8, bgr8, rgba8, bgra8). Freezes a loaned image."""
    @property
    def height(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def encoding(self) -> str: ...

@final
class DepthImage(Payload):
    """A depth image: ``float32`` metres or ``uint16`` millimetres, H×W."""

    def __new__(cls, height: int, width: int, dtype: Optional[_DTypeLike] = None) -> Self: ...
    @staticmethod
    def from_numpy(arr: Any) -> "DepthImage": ...
    @property
    def height(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def unit(self) -> Literal["m", "mm"]: ...

@final
class PointCloud(Payload):
    """N points of float32 fields ``xyz``, ``xyzi`` or ``xyzrgb`` (shape N×3, N×4, N×6)."""

    def __new__(cls, n: int, fields: Literal["xyz", "xyzi", "xyzrgb"] = "xyz") -> Self: ...
    @staticmethod
    def from_numpy(arr: Any, fields: Optional[str] = None) -> "PointCloud": ...
    @property
    def fields(self) -> str: ...
    def __len__(self) -> int: ...

@final
class Tensor(Payload):
    """A general N-d payload (1-8 dims) of any supported dtype.

    Example:
        >>> t = Tensor((2, 3), "float32"); t.to_numpy()[:] = 1
    """

    def __new__(cls, shape: Union[int, Sequence[int]], dtype: Optional[_DTypeLike] = None) -> Self: ...
    @staticmethod
    def from_numpy(arr: Any) -> "Tensor": ...
    @staticmethod
    def from_dlpack(obj: Any) -> "Tensor":
        """Copy from any host DLPack producer (NumPy, PyTorch, JAX, ...).

        Raises:
            DLPackError: no ``__dlpack__``, an invalid capsule, or device memory.
        """
    @staticmethod
    def from_torch(tensor: Any) -> "Tensor": ...
    def __len__(self) -> int: ...

@final
class Topic:
    """A named topic in the current namespace.

    Payloads travel by descriptor (zero-copy); POD messages (``tb.CmdVel`` or any
    ``@tb.message`` class) as their bytes, inline in the ring entry when at most 104 bytes; dicts
    as MessagePack (inline when small, else through a pool slot).

    Args:
        name: 1-63 characters of ``[A-Za-z0-9._-/]``.
        type: a payload class (e.g. ``Image``), a message class, ``dict``, or None (accept
            payloads, dicts and small bytes); a different type on an existing topic raises
            :class:`TopicTypeError` naming both.
        depth: entries in the ring; the topic pins at most this many frames.
        policy: ``"latest"`` (overwrite, count misses) or ``"reliable"`` (send waits).
        timeout: seconds a reliable send waits for the slowest subscriber before raising
            :class:`SendTimeoutError` (default 1).
        history: frames kept for late joiners and ``latest()`` once every subscriber has read
            them: 1 (the newest, default) or 0 (none: the slot frees as soon as the readers drop
            it, so the next ``from_numpy`` or loan reuses a cache-warm slot; a subscriber that
            joins later starts with the next send). Fixed when the topic is created.
        max_subscribers: subscribers the topic can have at once, in any processes (1..1024,
            default 64; 64 bytes of shared memory each). Fixed when the topic is created.
    """

    def __new__(cls, name: str, type: Optional[Any] = None, depth: int = 4, policy: Literal["latest", "reliable"] = "latest", timeout: float = 1.0, history: int = 1, max_subscribers: int = 64) -> Self: ...
    def send(self, msg: Any) -> int:
        """Publish a message; returns its sequence number. A loaned payload is frozen by sending it.

        Raises:
            SendTimeoutError: a reliable topic's slowest subscriber did not catch up, or another
                live process (stopped, stuck) held the topic's writer lock past the timeout; the
                message names its pid.
            TopicTypeError: a payload of another type.
        """
    def recv(self, timeout: float = 0.0) -> Any:
        """The next unread message, or None; blocks (sleeping, no spin) up to ``timeout`` seconds.

        The subscriber is created by the first ``recv``/``latest`` and starts at the newest entry.
        """
    @property
    def spin(self) -> float:
        """Seconds a blocking ``recv`` spins before sleeping after one that got a message
        (default 50 µs; 0: sleep at once; ``float("inf")``: never sleep)."""
    @spin.setter
    def spin(self, seconds: float) -> None: ...
    def recv_async(self, timeout: Optional[float] = None) -> Coroutine[Any, Any, Any]:
        """Awaitable: the next message without blocking the running event loop (at most ``timeout``
        seconds, then None; None: no limit). Cancelling the awaiting task ends the wait."""
    def __aiter__(self) -> AsyncIterator[Any]:
        """``async for msg in topic``: every message as it arrives."""
    def latest(self) -> Any:
        """The newest message, skipping older unread ones."""
    @property
    def name(self) -> str: ...
    @property
    def type_name(self) -> str: ...
    @property
    def depth(self) -> int: ...
    @property
    def policy(self) -> str: ...
    @property
    def history(self) -> int: ...
    @property
    def max_subscribers(self) -> int: ...
    @property
    def sent(self) -> int: ...
    @property
    def misses(self) -> int: ...
    @property
    def received(self) -> int: ...

@disjoint_base
class Scheduler:
    """The Rust scheduling loop (see ``tensorbus.Scheduler``, which adds ``add(node)``)."""

    def __new__(cls, tick_rate: float = 100.0, spin: Optional[float] = None) -> Self:
        """``spin``: seconds the loop spins before a release, and event nodes' waits before they
        sleep while messages keep coming (default 100 µs; 0: never spin)."""
    def run(self, duration: Optional[float] = None) -> None:
        """Run until ``duration`` seconds pass, ``stop()``, or Ctrl-C (re-raised after every
        node's shutdown ran)."""
    def stop(self) -> None: ...
    def get_node_names(self) -> list[str]: ...
    def get_node_stats(self, name: str) -> dict[str, Any]:
        """total_ticks, avg/max/p99_tick_duration (s), budget_misses, deadline_misses,
        error_count, last_error, actual_rate, running, stopped. Readable while running."""
    @property
    def tick_rate(self) -> float: ...
    def _add(self, name: str, tick: Any, init: Any = None, shutdown: Any = None, rate: Optional[float] = None, budget: Optional[float] = None, deadline: Optional[float] = None, on_miss: str = "warn", compute: bool = False, stop_on_error: bool = False, on: Optional[list[Topic]] = None) -> None: ...

@final
class WaitSet:
    """Several topics watched at once, without polling and without a thread per topic.

    ``ws.wait(timeout)`` returns ``[(topic, "ready" | "deadline"), ...]``: ``"ready"`` while the topic
    has unread messages (its own ``recv()`` would return one), ``"deadline"`` when a topic added
    with ``deadline=`` seconds delivered nothing for that long.
    """
    def __new__(cls, topics: Optional[list[Topic]] = None, spin: Optional[float] = None) -> Self: ...
    def add(self, topic: Topic, deadline: Optional[float] = None) -> None: ...
    def remove(self, topic: Topic) -> None: ...
    def wait(self, timeout: Optional[float] = None) -> list[tuple[Topic, str]]: ...
    def interrupt(self) -> None:
        """End a ``wait()`` in progress (from another thread)."""
    def __len__(self) -> int: ...

def wait(topics: list[Topic], timeout: Optional[float] = None) -> list[Topic]:
    """Wait until any of ``topics`` has unread messages (at most ``timeout`` seconds); the ready ones."""

def _watch(topic: Topic, wake: Any) -> int: ...
def _unwatch(id: int) -> None: ...
def _aio_shutdown() -> None: ...
@final
class _Recorder:
    def __new__(cls, path: str, topics: Optional[list[str]] = None, compression: str = "zstd", split_bytes: Optional[int] = None,
                split_seconds: Optional[float] = None, dicts: str = "json", layouts: Optional[list[tuple[str, int, str]]] = None,
                foxglove: bool = False) -> Self: ...
    def report(self) -> dict[str, Any]: ...
    def stop(self) -> dict[str, Any]: ...

@final
class _Bridge:
    def __new__(cls, connect: Optional[list[str]] = None, listen: Optional[list[str]] = None, export: Optional[list[str]] = None,
                import_: Optional[list[str]] = None, scope: Optional[str] = None, compression: Optional[list[tuple[str, str]]] = None,
                config: Optional[str] = None, mode: str = "peer", multicast: bool = False, zenoh_shm: bool = False, queue: Optional[int] = None,
                block_timeout: float = 1.0, ros2: bool = False, domain: int = 0, humble: bool = False, node: Optional[str] = None,
                ros2_map: Optional[str] = None) -> Self: ...
    @property
    def zid(self) -> str: ...
    def peers(self) -> list[str]: ...
    def report(self) -> dict[str, Any]: ...
    def stop(self) -> dict[str, Any]: ...

@final
class _McapReader:
    def __new__(cls, path: str, topics: Optional[list[str]] = None) -> Self: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> tuple[str, int, str, Any]: ...

def _replay(path: str, rate: float = 1.0, looped: bool = False, start: Optional[float] = None, end: Optional[float] = None,
            topics: Optional[list[str]] = None, remap: Optional[list[tuple[str, str]]] = None, restamp: bool = False) -> dict[str, Any]: ...
def _record_info(path: str) -> dict[str, Any]: ...
def _ros2_encode(payload: Payload) -> bytes: ...
def _ros2_decode(kind: str, data: bytes) -> Payload: ...
def _ros2_twist_encode(linear: Sequence[float], angular: Sequence[float]) -> bytes: ...
def _ros2_twist_decode(data: bytes) -> tuple[list[float], list[float]]: ...
def _ros2_type_hash(type_name: str) -> Optional[str]: ...

def budget_remaining() -> Optional[float]:
    """Seconds of budget left in the current tick (None outside a tick or without a budget)."""

def packb(obj: Any) -> bytes:
    """Encode dict/list/str/bytes/int/float/bool/None as MessagePack (what dict topics send)."""

def unpackb(data: bytes) -> Any:
    """Decode MessagePack; malformed input raises :class:`InvalidDescriptorError`."""

def pod_type_hash(fields: str, size: int, offsets: list[int]) -> int:
    """The layout hash of a POD message, as Rust's ``tensorbus::message::type_hash``."""

# Standard messages (py/src/stdmsg.rs); tensorbus.messages adds _tb_fields, _tb_spec, _tb_hash,
# topic_name, __repr__, __eq__ and __reduce__ at import.

class _StdMessage:
    topic_name: ClassVar[str]
    timestamp_ns: int
    def _tb_pack(self) -> bytes:
        """The wire bytes (a ``timestamp_ns`` of 0 is stamped with the current time)."""
    @classmethod
    def _tb_unpack(cls, data: bytes) -> Self:
        """A message of this class from its wire bytes."""

@disjoint_base
class CmdVel(_StdMessage):
    """A velocity command for a planar base: forward speed (m/s) and turn rate (rad/s)."""

    linear: float
    angular: float
    def __new__(cls, linear: float = ..., angular: float = ..., timestamp_ns: int = 0) -> Self: ...

@disjoint_base
class Twist(_StdMessage):
    """A 3-D velocity: linear (m/s) and angular (rad/s) parts."""

    linear: tuple[float, float, float]
    angular: tuple[float, float, float]
    def __new__(cls, linear: Sequence[float] = ..., angular: Sequence[float] = ..., timestamp_ns: int = 0) -> Self: ...

@disjoint_base
class Pose2D(_StdMessage):
    """A planar pose: x, y (m), heading theta (rad)."""

    x: float
    y: float
    theta: float
    def __new__(cls, x: float = ..., y: float = ..., theta: float = ..., timestamp_ns: int = 0) -> Self: ...

@disjoint_base
class Imu(_StdMessage):
    """An inertial measurement: orientation quaternion (x, y, z, w), angular velocity, linear acceleration."""

    orientation: tuple[float, float, float, float]
    angular_velocity: tuple[float, float, float]
    linear_acceleration: tuple[float, float, float]
    def __new__(cls, orientation: Sequence[float] = ..., angular_velocity: Sequence[float] = ..., linear_acceleration: Sequence[float] = ..., timestamp_ns: int = 0) -> Self: ...

@disjoint_base
class Detection(_StdMessage):
    """One detected object: class id, score, and bounding box (x, y, w, h) in pixels."""

    class_id: int
    score: float
    x: float
    y: float
    w: float
    h: float
    def __new__(cls, class_id: int = ..., score: float = ..., x: float = ..., y: float = ..., w: float = ..., h: float = ..., timestamp_ns: int = 0) -> Self: ...

@disjoint_base
class Heartbeat(_StdMessage):
    """A liveness signal: beat counter, uptime (s), pid and a state code (0 = ok)."""

    seq: int
    uptime_s: float
    pid: int
    state: int
    def __new__(cls, seq: int = ..., uptime_s: float = ..., pid: int = ..., state: int = ..., timestamp_ns: int = 0) -> Self: ...

def pool_stats() -> dict[str, Any]:
    """Pools (slot size, slots, used, holders by pid), participants and topics of the namespace."""

def reap() -> dict[str, int]:
    """Release the holds of dead processes; returns ``{"processes": n, "slots_freed": n}``."""

def use_namespace(name: Optional[str] = None, shm_dir: Optional[str] = None) -> str:
    """Switch this process's namespace; returns its directory."""

def cli_main(args: list[str]) -> int:
    """Run the ``tensorbus`` CLI with ``args`` (without the program name); returns the exit code."""

def _shutdown() -> None: ...
def _after_fork() -> None: ...
