"""Nodes and the scheduler, the seed documents' API.

Example:
    >>> import tensorbus as tb
    >>> def tick(node):
    ...     img = node.recv("camera.rgb")
    ...     if img is not None:
    ...         node.send("detections", {"n": 0})
    >>> node = tb.Node(name="det", subs=["camera.rgb"], pubs=["detections"], tick=tick,
    ...                rate=30, budget=30 * tb.ms, on_miss="skip")
    >>> tb.run(node, duration=1.0)

Event nodes tick when their topics have data instead of at a rate:

    >>> def on_frame(node):
    ...     img = node.recv("camera.rgb")          # the frame that woke the node
    >>> tb.Node(name="det", on="camera.rgb", tick=on_frame)

The scheduling loop is Rust and runs without the GIL; it takes the GIL only to call Python
callbacks. ``compute=True`` nodes run on their own thread, so a slow one does not delay the
others. ``async def`` ticks run on an event-loop thread (and are compute nodes).
"""

import asyncio
import inspect
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

from . import _native

__all__ = ["Node", "Scheduler", "run", "budget_remaining", "ms", "us"]

#: One millisecond, in seconds (``budget=30 * tb.ms``).
ms = 1e-3
#: One microsecond, in seconds.
us = 1e-6

budget_remaining = _native.budget_remaining

_loop: Optional[asyncio.AbstractEventLoop] = None
_loop_lock = threading.Lock()


def _event_loop() -> asyncio.AbstractEventLoop:
    """The shared event loop thread for coroutine ticks (started on first use)."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="tensorbus-asyncio", daemon=True).start()
            _loop = loop
        return _loop


def _topic_for(spec: Any, type_: Any = None):
    """A Topic for a pubs/subs entry: a name, a message or payload class, or (name, type)."""
    if isinstance(spec, str):
        return spec, _native.Topic(spec, type_)
    if isinstance(spec, type):
        name = getattr(spec, "topic_name", None) or spec.__name__.lower()
        return name, _native.Topic(name, spec)
    raise TypeError(f"a topic is a name, a message class or a payload class, not {spec!r}")


def _topics(specs: Union[None, Iterable[Any], Dict[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if specs is None:
        return out
    if isinstance(specs, dict):
        for name, t in specs.items():
            out[name] = _native.Topic(name, t)
        return out
    if isinstance(specs, (str, type)):
        specs = [specs]
    for s in specs:
        name, topic = _topic_for(s)
        out[name] = topic
    return out


class Node:
    """A unit of work the scheduler ticks at a fixed rate, or (``on=``) when its topics have data.

    Args:
        name: unique within a scheduler.
        tick: ``tick(node)`` or ``tick()``; may be ``async def``. An event node's tick may take
            ``tick(node, msgs)``: ``msgs`` maps each ready topic to the list of its unread
            messages (received for the tick, oldest first).
        on: an event node: a topic (name or class, as in ``subs``) or a list of them; the tick
            runs whenever one has messages it has not seen (``node.ready`` names those, and
            ``node.recv(topic)`` returns them). Messages a tick leaves unread do not wake it
            again; a newer one does. No ``rate``; ``deadline``, if set, counts from the arrival
            of the waking message, and the node's stats report its wake latency.
        pubs, subs: topic names, message classes (``tb.CmdVel`` → topic ``cmd_vel``), payload
            classes, or a dict ``name → type``.
        init, shutdown: called once before the first tick / after the last (``f(node)`` or ``f()``).
        rate: ticks per second (default: the scheduler's ``tick_rate``).
        budget: seconds a tick may take (a longer tick is a budget miss).
        deadline: seconds after its release time by which a tick must end (default: the period).
        on_miss: ``"warn"`` (count), ``"skip"`` (skip missed periods) or ``"stop"`` (stop the node).
        compute: run on a worker thread of its own.
        on_error: ``"continue"`` (log, count, go on) or ``"stop"`` the node.
    """

    def __init__(
        self,
        name: Optional[str] = None,
        tick: Optional[Callable[..., Any]] = None,
        pubs: Any = None,
        subs: Any = None,
        init: Optional[Callable[..., Any]] = None,
        shutdown: Optional[Callable[..., Any]] = None,
        rate: Optional[float] = None,
        budget: Optional[float] = None,
        deadline: Optional[float] = None,
        on_miss: str = "warn",
        compute: bool = False,
        on_error: str = "continue",
        on: Any = None,
    ):
        if tick is None:
            raise TypeError("Node needs a tick callable")
        if on_error not in ("continue", "stop"):
            raise ValueError(f'on_error must be "continue" or "stop", not {on_error!r}')
        self.name = name or getattr(tick, "__name__", "node")
        self.rate, self.budget, self.deadline = rate, budget, deadline
        self.on_miss, self.compute, self.on_error = on_miss, compute, on_error
        self._pubs = _topics(pubs)
        self._subs = _topics(subs)
        self._on: List[str] = []
        for name, topic in _topics(on).items():
            self._subs.setdefault(name, topic)
            self._on.append(name)
        if self._on and rate is not None:
            raise ValueError(f"node {self.name!r}: an event node (on=...) ticks when its topics have data; it takes no rate")
        #: An event node's topics that had new messages when the current tick started.
        self.ready: tuple = ()
        self._tick_fn, self._init_fn, self._shutdown_fn = tick, init, shutdown
        self._is_async = inspect.iscoroutinefunction(tick)
        if self._is_async:
            self.compute = True  # waits on the event loop: keep it off the main thread

    # --- messaging inside callbacks ------------------------------------------------------------

    def _pub(self, topic: str):
        t = self._pubs.get(topic) or self._subs.get(topic)
        if t is None:
            t = self._pubs[topic] = _native.Topic(topic)
        return t

    def _sub(self, topic: str):
        t = self._subs.get(topic) or self._pubs.get(topic)
        if t is None:
            t = self._subs[topic] = _native.Topic(topic)
        return t

    def send(self, topic: str, msg: Any) -> int:
        """Publish ``msg`` on ``topic`` (declared in ``pubs``, or opened untyped on first use)."""
        return self._pub(topic).send(msg)

    def recv(self, topic: str, timeout: float = 0.0) -> Any:
        """The next unread message on ``topic``, or None."""
        return self._sub(topic).recv(timeout)

    def latest(self, topic: str) -> Any:
        """The newest message on ``topic`` (skipping older unread ones), or None."""
        return self._sub(topic).latest()

    def recv_all(self, topic: str) -> List[Any]:
        """Every unread message on ``topic`` (oldest first)."""
        t = self._sub(topic)
        out = []
        while True:
            m = t.recv()
            if m is None:
                return out
            out.append(m)

    def topics(self) -> Dict[str, Any]:
        return {**self._subs, **self._pubs}

    # --- what the scheduler calls --------------------------------------------------------------

    def _bind(self, fn: Optional[Callable[..., Any]]) -> Optional[Callable[[], Any]]:
        if fn is None:
            return None
        try:
            params = [p for p in inspect.signature(fn).parameters.values() if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            params = [None]
        if inspect.iscoroutinefunction(fn):
            if params:
                return lambda: asyncio.run_coroutine_threadsafe(fn(self), _event_loop()).result()
            return lambda: asyncio.run_coroutine_threadsafe(fn(), _event_loop()).result()
        if params:
            node = self
            return lambda: fn(node)
        return fn

    def _event_tick(self) -> Callable[[Any], Any]:
        """The tick an event node hands the scheduler: ``f(ready)``, ``ready`` the tuple of the
        topics that fired. The common forms (``tick(node)``, ``tick()``) get a closure of their own,
        so a wake costs one Python frame before the user's."""
        fn = self._tick_fn
        try:
            n_params = len([p for p in inspect.signature(fn).parameters.values() if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
        except (TypeError, ValueError):
            n_params = 1
        node = self
        if not inspect.iscoroutinefunction(fn) and n_params <= 1:
            if n_params == 1:
                def tick(ready):
                    node.ready = ready
                    try:
                        return fn(node)
                    finally:
                        node.ready = ()
            else:
                def tick(ready):
                    node.ready = ready
                    try:
                        return fn()
                    finally:
                        node.ready = ()
            return tick
        if n_params >= 2:
            if inspect.iscoroutinefunction(fn):
                def run(ready):
                    msgs = {t: node.recv_all(t) for t in ready}
                    return asyncio.run_coroutine_threadsafe(fn(node, msgs), _event_loop()).result()
            else:
                def run(ready):
                    return fn(node, {t: node.recv_all(t) for t in ready})
        else:
            bound = self._bind(fn)
            assert bound is not None

            def run(ready):
                return bound()

        def tick_general(ready):
            node.ready = tuple(ready)
            try:
                return run(node.ready)
            finally:
                node.ready = ()

        return tick_general

    def _add_to(self, sched: "_native.Scheduler") -> None:
        sched._add(
            self.name,
            self._event_tick() if self._on else self._bind(self._tick_fn),
            init=self._bind(self._init_fn),
            shutdown=self._bind(self._shutdown_fn),
            rate=self.rate,
            budget=self.budget,
            deadline=self.deadline,
            on_miss=self.on_miss,
            compute=self.compute,
            stop_on_error=self.on_error == "stop",
            on=[self._subs[n] for n in self._on] or None,
        )

    def __repr__(self) -> str:
        when = f"on={self._on}" if self._on else f"rate={self.rate}"
        return f"<tensorbus.Node {self.name!r} {when} pubs={list(self._pubs)} subs={list(self._subs)}>"


class Scheduler(_native.Scheduler):
    """Runs nodes at their rates: ``Scheduler(tick_rate=100)``; ``add``, ``run``, ``stop``,
    ``get_node_names``, ``get_node_stats`` (readable while running)."""

    def add(self, node: Node) -> "Scheduler":
        node._add_to(self)
        return self


def run(*nodes: Node, duration: Optional[float] = None, tick_rate: float = 100.0) -> Scheduler:
    """Run ``nodes`` in a new scheduler until ``duration`` seconds pass (or Ctrl-C); returns it."""
    s = Scheduler(tick_rate=tick_rate)
    for n in nodes:
        s.add(n)
    s.run(duration=duration)
    return s
