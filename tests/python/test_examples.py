"""The examples run: examples/ml/inference_node.py against the Rust camera driver, both under
`tensorbus launch examples/ml/pipeline.toml` (what `make demo` shows)."""

import pathlib
import subprocess
import sys

import pytest
from _children import env_for

pytest.importorskip("torch")

ROOT = pathlib.Path(__file__).resolve().parents[2]
CAMERA = ROOT / "target" / "release" / "examples" / "camera_driver"

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]


@pytest.fixture(scope="module")
def camera_driver():
    # Always (a no-op when current): a driver built before a layout change would be refused.
    subprocess.run(["cargo", "build", "--release", "--example", "camera_driver"], cwd=ROOT, check=True, timeout=900)
    return CAMERA


@pytest.mark.timeout(900)
def test_pipeline_under_launch(camera_driver):
    env = env_for("examples-pipeline", DEMO_SECONDS="4", PYTHON=sys.executable)
    r = subprocess.run(
        [sys.executable, "-m", "tensorbus", "launch", str(ROOT / "examples" / "ml" / "pipeline.toml")],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "[inference] every frame zero-copy: True" in out, out + r.stderr
    assert "[inference] frames " in out and "[inference] camera -> node  p50" in out, out
    assert "camera_driver:" in r.stderr  # the driver reports on stderr, prefixed [camera]


def test_python_camera_demo():
    """examples/demo.py (`make demo-python`): a Python camera process feeding a torch node."""
    env = env_for("examples-demo-py")
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py"), "--seconds", "2"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "every frame zero-copy: True" in r.stdout, r.stdout
    assert "0 after closing it" in r.stdout, r.stdout
