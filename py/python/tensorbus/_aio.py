"""The coroutine side of the asyncio bridge (the thread side is ``py/src/aio.rs``).

``await topic.recv_async()`` tries ``topic.recv()``; when nothing is there it registers a watch
with the process's watcher thread, which sleeps on every watched topic at once (one futex_waitv)
and resolves the awaiting coroutine's future through ``loop.call_soon_threadsafe`` as soon as
the topic has unread messages. The event loop never blocks; cancelling the task removes the watch.
"""

import asyncio
import functools
from typing import Any, Optional

from . import _native

__all__ = ["recv_async", "TopicIterator"]


def _resolve(fut: "asyncio.Future[None]") -> None:
    if not fut.done():
        fut.set_result(None)


async def recv_async(topic: Any, timeout: Optional[float] = None) -> Any:
    """The next message on ``topic``, waiting at most ``timeout`` seconds (None: no limit)."""
    loop = asyncio.get_running_loop()
    end = None if timeout is None else loop.time() + timeout
    while True:
        msg = topic.recv()
        if msg is not None:
            return msg
        if end is not None and loop.time() >= end:
            return None
        fut = loop.create_future()
        watch = _native._watch(topic, functools.partial(loop.call_soon_threadsafe, _resolve, fut))
        try:
            if end is None:
                await fut
            else:
                await asyncio.wait([fut], timeout=max(0.0, end - loop.time()))
        finally:
            _native._unwatch(watch)


class TopicIterator:
    """``async for msg in topic``: every message as it arrives (until the task is cancelled)."""

    def __init__(self, topic: Any) -> None:
        self.topic = topic

    def __aiter__(self) -> "TopicIterator":
        return self

    async def __anext__(self) -> Any:
        return await recv_async(self.topic)
