"""Every notebook runs top to bottom on the shipped data_test/, with defaults and with other
parameters, and is committed without outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
KERNEL = "omni-research-test"


def test_the_four_notebooks_exist() -> None:
    assert NAMES == [
        "01_explore_market_data.ipynb",
        "02_indicator_prototyping.ipynb",
        "03_backtest_parameter_sweep.ipynb",
        "04_research_report.ipynb",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_clean_with_a_parameters_cell(name: str) -> None:
    nb = json.loads((NOTEBOOKS / name).read_text("utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    source = "".join(tagged[0]["source"])
    assert "symbols" in source and "timeframe" in source
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_nbstripout_verify_passes() -> None:
    exe = Path(sys.executable).with_name("nbstripout")
    if not exe.exists():
        pytest.skip("nbstripout is not installed in this environment")
    proc = subprocess.run(
        [str(exe), "--verify", *[str(NOTEBOOKS / n) for n in NAMES]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A kernelspec that runs this interpreter (the venv's python), in a temporary data dir."""
    data = tmp_path_factory.mktemp("jupyter-data")
    spec = data / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "omni-research (test)",
                "language": "python",
            }
        ),
        "utf-8",
    )
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(data) + (os.pathsep + old if old else "")
    try:
        yield KERNEL
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old


def run_notebook(name: str, out: Path, kernel: str, parameters: dict[str, Any]) -> Any:
    import nbformat
    import papermill

    papermill.execute_notebook(
        str(NOTEBOOKS / name),
        str(out / name),
        parameters=parameters,
        kernel_name=kernel,
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        execution_timeout=300,
    )
    return nbformat.read(out / name, as_version=4)


def outputs(nb: Any, kind: str) -> list[Any]:
    return [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == kind
    ]


def images(nb: Any) -> int:
    return sum(
        "image/png" in o.get("data", {})
        for o in outputs(nb, "display_data") + outputs(nb, "execute_result")
    )


def stdout(nb: Any) -> str:
    return "".join(o.text for o in outputs(nb, "stream") if o.name == "stdout")


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NAMES if not n.startswith("04")])
def test_notebook_runs_with_defaults(name: str, kernel: str, tmp_path: Path) -> None:
    nb = run_notebook(name, tmp_path, kernel, {})
    assert outputs(nb, "error") == []
    assert images(nb) >= 2
    # the kernel ran this interpreter, so the notebook used the package under test
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")


@pytest.mark.slow
def test_report_notebook_writes_report_into_out_dir(kernel: str, tmp_path: Path) -> None:
    out = tmp_path / "exports"
    nb = run_notebook("04_research_report.ipynb", tmp_path, kernel, {"out_dir": str(out)})
    assert outputs(nb, "error") == []
    written = sorted(p.suffix for p in out.iterdir())
    assert written == [".html", ".json", ".pdf"]  # .json: <name>.lineage.json
    assert "tier test" in stdout(nb)


@pytest.mark.slow
def test_backtest_notebook_with_other_parameters(kernel: str, tmp_path: Path) -> None:
    params = {
        "symbols": ["SOLUSDT"],
        "start": "2025-01-07",
        "end": "2025-01-11",
        "timeframe": "30m",
        "fast": 4,
        "slow": 16,
        "fast_grid": [2, 4, 6],
        "slow_grid": [12, 16, 24],
    }
    nb = run_notebook("03_backtest_parameter_sweep.ipynb", tmp_path, kernel, params)
    assert outputs(nb, "error") == []
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'symbols = ["SOLUSDT"]' in injected[0].source
    text = stdout(nb)
    assert "sweep row matches the single run" in text and "no look-ahead" in text
    # the sweep table shows only the non-default grid (3 x 3 pairs)
    html = "".join(
        o["data"].get("text/html", "") for o in outputs(nb, "execute_result") if "data" in o
    )
    assert "shape: (9, 6)" in html or "(9, 6)" in "".join(
        o["data"].get("text/plain", "") for o in outputs(nb, "execute_result")
    )
