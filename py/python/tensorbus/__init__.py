"""tensorbus: a zero-copy shared-memory tensor pool for robotics and ML pipelines.

A frame lives once in a shared-memory pool slot; every process views it as NumPy, PyTorch or
JAX without a copy. Only a 64-byte descriptor travels through a topic ring.

Example:
    >>> import tensorbus as tb
    >>> img = tb.Image(480, 640, "rgb8")      # loan a slot
    >>> img.to_numpy()[:] = 0                  # fill it in place
    >>> t = img.to_torch()                     # zero-copy view
"""

import atexit as _atexit
import os as _os

from . import (
    _jupyter,  # noqa: F401  (rich display hooks for Jupyter)
    _native,
    cuda,
    ros2,
    view,
)
from ._errors import *  # noqa: F401,F403
from ._errors import __all__ as _error_names
from ._native import (
    DepthImage,
    Image,
    Payload,
    PointCloud,
    Tensor,
    Topic,
    WaitSet,
    packb,
    pool_stats,
    reap,
    unpackb,
    use_namespace,
    wait,
)
from .bridge import Bridge
from .messages import (
    CmdVel,
    Detection,
    Heartbeat,
    Imu,
    Pose2D,
    Twist,
    array,
    f32,
    f64,
    i8,
    i16,
    i32,
    i64,
    message,
    u8,
    u16,
    u32,
    u64,
)
from .node import Node, Scheduler, budget_remaining, ms, run, us
from .record import Recorder, read_mcap, record_info, replay

__version__ = _native.__version__

_atexit.register(_native._shutdown)
_atexit.register(_native._aio_shutdown)  # runs first (atexit is last in, first out)
# A fork child (multiprocessing, DataLoader workers) gets its own registration on first use;
# the handles it inherits stay the parent's and are inert in the child.
_os.register_at_fork(after_in_child=_native._after_fork)

__all__ = [
    "Image",
    "DepthImage",
    "PointCloud",
    "Tensor",
    "Payload",
    "Topic",
    "WaitSet",
    "wait",
    "Node",
    "Scheduler",
    "run",
    "budget_remaining",
    "ms",
    "us",
    "message",
    "array",
    "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "f32", "f64",
    "CmdVel",
    "Twist",
    "Pose2D",
    "Imu",
    "Detection",
    "Heartbeat",
    "packb",
    "unpackb",
    "pool_stats",
    "reap",
    "use_namespace",
    "cuda",
    "ros2",
    "Recorder",
    "Bridge",
    "replay",
    "record_info",
    "read_mcap",
    "view",
    "__version__",
    *_error_names,
]
