"""Notebook export: report style, code hidden by default, nothing fetched from the network."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from omni_research.exceptions import ConfigurationError, DataFormatError
from omni_research.reports import export_notebook
from omni_research.reports._html import figure_to_png
from omni_research.reports._notebook import make_offline

from .conftest import REMOTE_REF, make_figure, needs_chromium, needs_pdftoppm
from .render import open_in_chromium, pdf_pages_png, pixel_std

SECRET_CODE = "very_distinctive_code_line = 41 + 1"


def _notebook(path: Path) -> Path:
    png = base64.b64encode(figure_to_png(make_figure(5, "nb figure"))).decode()
    nb = new_notebook(
        cells=[
            new_markdown_cell(
                "# Notebook title\nSome *prose* and ![remote](https://example.org/x.png)"
            ),
            new_code_cell(
                SECRET_CODE,
                outputs=[
                    new_output("stream", name="stdout", text="hello from the kernel\n"),
                    new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
                    new_output(
                        "display_data",
                        data={
                            "text/html": (
                                '<script src="https://cdn.example/require.js"></script>'
                                "<script>window.leak = 1</script>"
                                '<link rel="stylesheet" href="https://cdn.example/x.css">'
                                '<iframe src="https://example.org/embed"></iframe>'
                                "<table><tr><th>a</th></tr><tr><td>1</td></tr></table>"
                            )
                        },
                    ),
                ],
                execution_count=1,
            ),
        ]
    )
    nbformat.write(nb, path)
    return path


def test_make_offline_removes_every_fetched_reference() -> None:
    dirty = (
        '<script src="https://a/b.js"></script><script type="module">import x from '
        "'https://c/d.mjs'</script><link href='//e/f.css' rel=stylesheet>"
        '<img src="http://g/h.png" alt="x"><a href="https://ok.example">ok</a>'
        "<style>@import url(https://i/j.css); p { background: url('https://k/l.png') }</style>"
    )
    assert REMOTE_REF.search(dirty)
    clean = make_offline(dirty)
    assert not REMOTE_REF.findall(clean)
    assert "<script" not in clean and "<link" not in clean
    assert '<a href="https://ok.example">ok</a>' in clean


def test_export_hides_code_and_strips_cdn(tmp_path: Path) -> None:
    src = _notebook(tmp_path / "nb.ipynb")
    out = tmp_path / "out"
    written = export_notebook(src, out=out, formats=["html"])
    text = written["html"].read_text("utf-8")
    assert written["html"].name.startswith("notebook_nb_") and written["html"].suffix == ".html"
    assert SECRET_CODE not in text
    assert "hello from the kernel" in text
    assert text.count('src="data:image/png;base64,') == 1
    assert "<script" not in text.lower() and not REMOTE_REF.findall(text)
    assert "<title>Notebook title</title>" in text
    assert "@page" in text  # the report's print CSS
    shown = export_notebook(src, out=out, name="with-code", formats=["html"], show_code=True)
    assert "very_distinctive_code_line" in shown["html"].read_text("utf-8")


def test_export_defaults_next_to_the_notebook(tmp_path: Path) -> None:
    src = _notebook(tmp_path / "nb.ipynb")
    written = export_notebook(src, formats=["html"])
    assert written["html"].parent == tmp_path


def test_export_rejects_non_notebooks(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"expected an \.ipynb"):
        export_notebook(tmp_path / "x.txt")
    with pytest.raises(ConfigurationError, match="does not exist"):
        export_notebook(tmp_path / "missing.ipynb")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json", "utf-8")
    with pytest.raises(DataFormatError, match="not a readable Jupyter notebook"):
        export_notebook(bad)


@pytest.mark.browser
@needs_chromium
@needs_pdftoppm
def test_exported_notebook_renders_offline_and_prints(tmp_path: Path) -> None:
    src = _notebook(tmp_path / "nb.ipynb")
    written = export_notebook(src, out=tmp_path / "out")
    info = open_in_chromium(written["html"], screenshot=tmp_path / "nb.png")
    assert [u for u in info["requests"] if not u.startswith(("file://", "data:"))] == []
    decoded = [i for i in info["images"] if i["w"] > 0]
    assert len(decoded) == 1  # the figure; the remote Markdown image was neutralised
    assert info["scripts"] == 0
    assert [t["rows"] for t in info["tables"]] == [2]
    (page,) = pdf_pages_png(written["pdf"], tmp_path / "p", first=1, last=1)
    assert pixel_std(page) > 5


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[str]:
    spec = tmp_path / "jupyter" / "kernels" / "omni-export-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "language": "python"}), "utf-8")
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(tmp_path / "jupyter")
    try:
        yield "omni-export-test"
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old


@pytest.mark.slow
def test_export_can_execute_with_parameters(tmp_path: Path, kernel: str) -> None:
    params = new_code_cell("n = 2")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params, new_code_cell("print('n squared is', n * n)")])
    nb.metadata["kernelspec"] = {"name": kernel, "language": "python", "display_name": "t"}
    src = tmp_path / "run.ipynb"
    nbformat.write(nb, src)
    written = export_notebook(
        src, out=tmp_path, formats=["html"], execute=True, parameters={"n": 7}, kernel_name=kernel
    )
    assert "n squared is 49" in written["html"].read_text("utf-8")
    failing = tmp_path / "fail.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1 / 0")]), failing)
    with pytest.raises(DataFormatError, match="ZeroDivisionError"):
        export_notebook(failing, out=tmp_path, execute=True, kernel_name=kernel)
