"""examples/ml/explore.ipynb runs headless (nbclient) against a publisher of tb.Image frames on
`camera.rgb` in a child process, and shows the frame inline as PNG."""

import os
import pathlib

import pytest
from _children import kill, spawn_python

nbclient = pytest.importorskip("nbclient", reason="nbclient not installed (pip install nbclient ipykernel nbformat)")
nbformat = pytest.importorskip("nbformat", reason="nbformat not installed")
pytest.importorskip("ipykernel", reason="ipykernel not installed")
pytest.importorskip("torch", reason="the notebook converts to torch")

pytestmark = pytest.mark.multiprocess

NOTEBOOK = pathlib.Path(__file__).resolve().parents[2] / "examples" / "ml" / "explore.ipynb"
NS = "notebook"

PUBLISHER = """
import time, numpy as np, tensorbus as tb
cam = tb.Topic("camera.rgb", tb.Image)
t0 = time.monotonic()
i = 0
while time.monotonic() - t0 < 60:
    img = tb.Image(48, 64, "rgb8")
    img.to_numpy()[:] = (np.arange(48 * 64 * 3).reshape(48, 64, 3) + i) % 251
    img.timestamp_ns = time.time_ns()
    cam.send(img)
    i += 1
    time.sleep(0.02)
"""


def test_explore_notebook_executes_against_a_publisher():
    pub = spawn_python(PUBLISHER, namespace=NS)
    old = os.environ.get("TENSORBUS_NAMESPACE")
    os.environ["TENSORBUS_NAMESPACE"] = NS  # the kernel inherits it
    try:
        nb = nbformat.read(NOTEBOOK, as_version=4)
        client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}})
        client.execute()
    finally:
        os.environ["TENSORBUS_NAMESPACE"] = old
        kill(pub)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the frame was not shown inline"
    assert any("torch.Size([48, 64, 3]) torch.uint8" in o.get("text", "") for o in outputs)
