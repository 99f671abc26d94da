"""``tensorbus`` / ``python -m tensorbus``: the command-line tool (topics, pools, clean, doctor,
launch). The implementation is the Rust one (``tensorbus::cli``), called through ``_native``;
``view`` (the Foxglove live view, ``tensorbus.view``) is Python's and handled here.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    namespace, rest = _split_global(args)
    if rest[:1] == ["view"]:
        return view_main(rest[1:], namespace)
    from ._native import cli_main

    sys.stdout.flush()
    return int(cli_main(args))


def _split_global(args: list[str]) -> tuple[str | None, list[str]]:
    """(``--namespace`` value, the arguments from the command on)."""
    namespace, i = None, 0
    while i < len(args):
        if args[i] == "--namespace" and i + 1 < len(args):
            namespace, i = args[i + 1], i + 2
        elif args[i].startswith("--namespace="):
            namespace, i = args[i].split("=", 1)[1], i + 1
        else:
            break
    return namespace, args[i:]


def view_main(argv: list[str], namespace: str | None = None) -> int:
    """``tensorbus view [TOPICS...]``: serve topics to the Foxglove app until Ctrl-C."""
    import argparse
    import logging
    import time

    p = argparse.ArgumentParser(
        prog="tensorbus view",
        description="Stream topics to the Foxglove app: starts a Foxglove WebSocket server "
        "(in the app: Open connection -> Foxglove WebSocket -> ws://HOST:PORT). Needs foxglove-sdk "
        "(pip install tensorbus[view]).",
    )
    p.add_argument("topics", nargs="*", metavar="TOPIC", help="topic names or globs (default: all but tensorbus's own _tb.*)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0: a free one)")
    p.add_argument("--rate-limit", type=float, default=None, metavar="HZ", help="at most HZ frames/s per topic")
    p.add_argument("--include-reliable", action="store_true", help="also view reliable topics (their publishers then wait for the viewer)")
    p.add_argument("--namespace", default=namespace, help="namespace to view (default: $TENSORBUS_NAMESPACE or 'default')")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds (default: at Ctrl-C)")
    try:
        a = p.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)

    import tensorbus as tb

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("foxglove").setLevel(logging.WARNING)
    if a.namespace:
        tb.use_namespace(a.namespace)
    try:
        v = tb.view.serve(a.topics or None, host=a.host, port=a.port, rate_limit=a.rate_limit, include_reliable=a.include_reliable)
    except (ImportError, OSError, RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"tensorbus view: Foxglove WebSocket server on {v.url} (Foxglove app: Open connection -> Foxglove WebSocket -> {v.url}); Ctrl-C to stop", flush=True)
    try:
        if a.duration is None:
            while True:
                time.sleep(3600)
        time.sleep(a.duration)
    except KeyboardInterrupt:
        pass
    finally:
        stats = v.stats()
        v.stop()
        for name, s in sorted(stats.items()):
            print(f"{name:32} {s['type'] or 'untyped':12} forwarded {s['forwarded']:8}  skipped {s['skipped']:8}  errors {s['errors']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
