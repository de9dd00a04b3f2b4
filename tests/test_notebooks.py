"""The notebooks run from top to bottom, so they never rot.

Each notebook is executed with nbclient in a fresh python3 kernel (the ipykernel of the environment running the
tests), with the notebooks folder as working directory, as Jupyter would run it. The parameter cell's
`REPLICATIONS = N` is set to a few replications first, to keep the run short. Any cell that raises fails the test.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests import cli_process

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
TEST_REPLICATIONS = 3
CELL_TIMEOUT_SECONDS = 300
PARAMETER = re.compile(r"^REPLICATIONS = \d+", re.MULTILINE)
# Charts each notebook must show (image/png outputs): differences, overlay, sizing, live differences;
# backcast (the calibration report's charts are inside an HTML frame, not counted).
MIN_IMAGES = {"workshop.ipynb": 4, "calibration.ipynb": 1}
BASE64_DATA = re.compile(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+")
UK_DATE = re.compile(r"\b\d{2}/\d{2}/\d{4}\b")
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d{1,2}[A-Z]? \d[A-Z]{2}\b")


def _code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _with_few_replications(notebook: nbformat.NotebookNode) -> None:
    cells = [cell for cell in _code_cells(notebook) if PARAMETER.search(cell.source)]
    assert len(cells) == 1, "expected exactly one parameter cell setting `REPLICATIONS = <number>`"
    assert "parameters" in cells[0].metadata.get("tags", []), "the parameter cell should be tagged 'parameters'"
    cells[0].source = PARAMETER.sub(f"REPLICATIONS = {TEST_REPLICATIONS}", cells[0].source)


def _shown_text(notebook: nbformat.NotebookNode) -> str:
    """Every text output (streams, plain text, HTML), with embedded base64 images removed."""
    parts = []
    for cell in _code_cells(notebook):
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            data = output.get("data", {})
            parts += [data.get("text/plain", ""), data.get("text/html", ""), data.get("text/markdown", "")]
    return BASE64_DATA.sub("", "\n".join(parts))


@pytest.mark.parametrize("name", sorted(MIN_IMAGES))
def test_notebook_is_committed_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    for cell in _code_cells(notebook):
        assert not cell.outputs and cell.execution_count is None, f"{name}: clear the outputs before committing"


@pytest.mark.parametrize("name", sorted(MIN_IMAGES))
def test_notebook_runs_without_error(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    _with_few_replications(notebook)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},  # the kernel's working directory
    )
    with cli_process.untraced():  # the kernel's code is measured by the in-process tests
        client.execute()  # raises CellExecutionError, naming the cell, when any cell fails

    outputs = [output for cell in _code_cells(notebook) for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = sum("image/png" in output.get("data", {}) for output in outputs)
    assert images >= MIN_IMAGES[name], f"{name}: {images} charts shown, expected at least {MIN_IMAGES[name]}"
    shown = _shown_text(notebook)
    # The synthetic returns' birth dates and dates (dd/mm/YYYY) and postcodes must never reach an output.
    assert not UK_DATE.search(shown), f"{name}: a dd/mm/YYYY date is shown"
    assert not POSTCODE.search(shown), f"{name}: something shaped like a postcode is shown"
