"""Helpers for the Python tests, in one place (the fixtures built on them are in conftest.py).

Child processes run with the parent's environment (the session's TENSORBUS_SHM_DIR), on a
namespace of the test's own where one is given:
- `spawn_python` / `run_python`: `python -c CODE args...` (Popen / run), `cli`: `python -m
  tensorbus args...` (the Rust CLI through `_native`), `env_for`: that environment;
- `Child`: a `python -c SCRIPT` peer (PUBLISHER, SUBSCRIBER, HOLDER below, or a test's own) that
  talks line by line over stdin/stdout, so the parent can synchronise before sending or killing;
- `kill` (SIGKILL and reap) and `killed_after` (the same when a `with` block ends);
- `wait_until`: poll a condition with a deadline; `use_namespace`: switch namespace for a block.
"""

import contextlib
import os
import select
import subprocess
import sys
import textwrap
import time


def env_for(namespace=None, **extra):
    """The parent's environment (same TENSORBUS_SHM_DIR), on `namespace` when given, plus `extra`."""
    env = dict(os.environ, **extra)
    if namespace is not None:
        env["TENSORBUS_NAMESPACE"] = namespace
    return env


def spawn_python(code, *args, namespace=None, env=None, **popen):
    """Start `python -c code args...` (args as strings) with `env_for(namespace)` unless `env`."""
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env_for(namespace) if env is None else env, **popen)


def run_python(code, *args, namespace=None, env=None, timeout=60, **run):
    """Run `python -c code args...` to the end, output captured as text; the CompletedProcess."""
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env_for(namespace) if env is None else env,
                          capture_output=True, text=True, timeout=timeout, **run)


def cli(*args, namespace=None):
    """`python -m tensorbus args...` (the Rust CLI through `_native`) on `namespace` (default: the
    session's), output captured as text."""
    return subprocess.run([sys.executable, "-m", "tensorbus", *args], env=env_for(namespace), capture_output=True, text=True, timeout=60)


def kill(proc):
    """SIGKILL a Popen (nothing if it has exited) and reap it."""
    proc.kill()
    proc.wait()


@contextlib.contextmanager
def killed_after(proc):
    """`with killed_after(spawn_python(...)) as p:` p is SIGKILLed and reaped when the block ends."""
    try:
        yield proc
    finally:
        kill(proc)


def wait_until(condition, timeout=20.0, interval=0.1, message="the condition never held"):
    """Call `condition()` every `interval` s until it returns something true, and return that; after
    `timeout` s fail with `message` (a string, or a function called for one)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, message() if callable(message) else message
        time.sleep(interval)


@contextlib.contextmanager
def use_namespace(tb, name):
    """Switch this process to namespace `name` for the block (yields what `tb.use_namespace`
    returns), then back to the session's ("pytest")."""
    ns = tb.use_namespace(name)
    try:
        yield ns
    finally:
        tb.use_namespace("pytest")


PATTERN = "def pattern(i, h, w):\n    return ((np.arange(h * w * 3).reshape(h, w, 3) * 7 + i * 13) % 251).astype(np.uint8)\n"

# argv: topic n h w.  Waits for "go", publishes n rgb8 images (reliable), prints their data_ptrs.
PUBLISHER = PATTERN + textwrap.dedent(
    """
    topic, n, h, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    t = tb.Topic(topic, "Image", depth=4, policy="reliable")
    print("ready", flush=True)
    assert sys.stdin.readline().strip() == "go"
    for i in range(n):
        img = tb.Image(h, w, "rgb8")
        img.to_numpy()[:] = pattern(i, h, w)
        img.frame_id = f"f{i}"
        t.send(img)
    print("sent", n, flush=True)
    sys.stdin.readline()  # stay alive until the parent is done
    """
)

# argv: topic n h w.  Subscribes, prints "ready", receives n images, checks values and zero-copy.
SUBSCRIBER = PATTERN + textwrap.dedent(
    """
    topic, n, h, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    t = tb.Topic(topic, "Image", depth=4, policy="reliable")
    assert t.recv() is None
    print("ready", flush=True)
    bad = []
    for i in range(n):
        p = t.recv(timeout=10.0)
        if p is None:
            bad.append(f"timeout at {i}"); break
        a = p.to_numpy()
        if type(p).__name__ != "Image" or p.frame_id != f"f{i}" or not p.readonly or a.flags.writeable:
            bad.append(f"meta {i}: {p!r}")
        if a.ctypes.data != p.data_ptr or p.to_torch().data_ptr() != p.data_ptr:
            bad.append(f"copy {i}")
        if not np.array_equal(a, pattern(i, h, w)):
            bad.append(f"values {i}")
    print("ok" if not bad else "bad " + "; ".join(bad), flush=True)
    sys.stdin.readline()
    """
)

# argv: topic k.  Receives k images, holds them with NumPy and torch views, then a loaned image
# it never sends; prints "holding" and sleeps until killed.
HOLDER = textwrap.dedent(
    """
    import torch, time
    topic, k = sys.argv[1], int(sys.argv[2])
    t = tb.Topic(topic, "Image", depth=4)
    assert t.recv() is None
    print("ready", flush=True)
    keep = []
    for _ in range(k):
        p = t.recv(timeout=10.0)
        assert p is not None
        keep += [p, p.to_numpy(), p.to_torch(), torch.from_dlpack(p)]
    loaned = tb.Image(16, 16, "rgb8")
    view = loaned.to_torch()
    del loaned
    print("holding", flush=True)
    time.sleep(600)
    """
)


class Child:
    """A `python -c SCRIPT` peer on `namespace` (numpy, torch and tensorbus imported first)."""

    def __init__(self, script, *args, namespace):
        # torch is imported up front: a first import inside a reliable exchange takes longer than
        # the 1 s send timeout.
        code = "import sys\nimport numpy as np\nimport torch\nimport tensorbus as tb\n" + script
        self.proc = spawn_python(code, *args, namespace=namespace, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    @property
    def pid(self):
        return self.proc.pid

    def expect(self, prefix, timeout=30.0):
        """The next stdout line, which must start with `prefix`."""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"child sent nothing within {timeout}s (waiting for {prefix!r})")
        line = self.proc.stdout.readline().strip()
        if not line.startswith(prefix):
            self.proc.kill()
            raise AssertionError(f"child said {line!r}, expected {prefix!r}; stderr:\n{self.proc.stderr.read()}")
        return line

    def say(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout=30.0):
        """Tell the child to exit; it must exit 0."""
        try:
            try:
                self.say("bye")
            except OSError:  # already gone (BrokenPipeError)
                pass
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait(30)
            err = self.proc.stderr.read()
        finally:
            self._close()
        assert rc == 0, f"child exited {rc}: {err}"

    def _close(self):
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass

    def kill(self):
        """SIGKILL the child (no chance to clean up) and reap it; again is harmless."""
        self.proc.kill()
        self.proc.wait(30)
        self._close()
