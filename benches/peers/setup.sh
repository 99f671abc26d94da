#!/usr/bin/env bash
# Creates benches/peers/.venv (once), installs the peers, and installs tensorbus from a wheel
# built from this checkout (abi3). Re-run safe; `make bench-peers` calls it.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv"
PY="$VENV/bin/python"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.peers-stamp"

if [ ! -x "$PY" ]; then
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$HERE/setup.sh" -nt "$STAMP" ]; then
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q "maturin>=1.5,<2" numpy matplotlib torch horus-robotics iceoryx2
  # pythusa declares Python >= 3.12 but runs on 3.11
  "$PY" -m pip install -q --ignore-requires-python pythusa
  touch "$STAMP"
fi

# tensorbus from this checkout; a checkout that does not build leaves the last install in place
WHEELS="$(mktemp -d)"
if (cd "$ROOT" && "$VENV/bin/maturin" build --release -q -o "$WHEELS" >"$WHEELS/build.log" 2>&1); then
  "$PY" -m pip install -q --force-reinstall --no-deps "$WHEELS"/tensorbus-*.whl
else
  echo "warning: tensorbus wheel did not build (tail of the log below); using the installed one" >&2
  tail -5 "$WHEELS/build.log" >&2
  "$PY" -c "import tensorbus" || { echo "no tensorbus in $VENV" >&2; exit 1; }
fi
rm -rf "$WHEELS"
"$PY" -m pip list 2>/dev/null | grep -iE "^(tensorbus|horus-robotics|iceoryx2|pythusa|numpy|torch|matplotlib) "
