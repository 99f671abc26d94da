"""``tensorbus`` / ``python -m tensorbus``: the command-line tool (topics, pools, clean, doctor,
launch). The implementation is the Rust one (``tensorbus::cli``), called through ``_native``.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    from ._native import cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    sys.stdout.flush()
    return int(cli_main(args))


if __name__ == "__main__":
    sys.exit(main())
