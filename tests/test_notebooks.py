"""Every notebook runs to completion, headless, so none can rot; and none is committed with outputs.

A notebook may list modules it needs in its metadata (``"mrkcheck": {"requires": [...]}``); it is
skipped, with the reason, where they are missing (03-z3 needs the symbolic engine).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT = 120  # seconds; each notebook takes well under a minute


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:
        return True


@pytest.fixture(scope="module")
def this_python_kernel(tmp_path_factory, monkeypatch_module):
    """A ``python3`` kernelspec for this interpreter, first on JUPYTER_PATH, so that a user's own
    ``python3`` kernel (another Python, without mrkcheck) is never the one that runs the tests."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"})
    )
    monkeypatch_module.setenv("JUPYTER_PATH", str(root))
    return "python3"


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_there_are_notebooks():
    names = [p.name for p in PATHS]
    assert names[:3] == [
        "01-exploring-the-model.ipynb",
        "02-reading-a-counterexample.ipynb",
        "03-z3.ipynb",
    ]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_runs(path, this_python_kernel):
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    missing = [m for m in notebook.metadata.get("mrkcheck", {}).get("requires", []) if _missing(m)]
    if missing:
        pytest.skip(f"{path.name} needs {', '.join(missing)} (not in this build)")
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name=this_python_kernel,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # a failing cell raises CellExecutionError, naming the cell
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    """Outputs make diffs unreadable and go stale; the tests produce them fresh instead."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {index} has outputs (notebooks/README.md)"
            assert cell.execution_count is None, f"{path.name} cell {index} has an execution count"
