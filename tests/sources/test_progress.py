"""The one progress display of every download: the text bar and the Jupyter widget form."""

from __future__ import annotations

import io
import sys

import pytest

from omni_research.sources import Progress, ProgressDisplay, progress_display
from omni_research.sources._progress import bar_line


def _at(done: int, total: int = 4, *, elapsed: float = 2.0) -> Progress:
    return Progress(
        unit=f"funding BTCUSDT 2025-01-0{done + 5}",
        done=done,
        total=total,
        rows=done * 1_500,
        requests=3 * done,
        bytes=done * 1_250_000,
        elapsed=elapsed,
    )


def test_bar_line_shows_files_rows_bytes_and_eta() -> None:
    line = bar_line(_at(1), width=8)
    # 1 of 4 files: a quarter of the bar; 2 s for one file -> 6 s for the three left
    assert line.startswith("[##------] 1/4 files, 1,500 rows, 1.2 MB, ETA 6 s")
    assert line.endswith("funding BTCUSDT 2025-01-06")
    assert bar_line(_at(4), width=8).startswith("[########] 4/4 files")
    assert "ETA ?" in bar_line(_at(0), width=8)
    assert bar_line(_at(0, total=0), width=4).startswith("[####] 0/0 files")


def test_the_text_form_redraws_one_line_and_ends_it_on_close() -> None:
    out = io.StringIO()
    show = progress_display(stream=out, notebook=False)
    assert isinstance(show, ProgressDisplay) and show.bar is None
    for done in (1, 2):
        show(_at(done))
    show.close()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert text.split("\r")[-1].startswith("[" + "#" * 12 + "-" * 12 + "] 2/4 files")


def test_no_display_for_a_stream_that_is_no_terminal_outside_a_notebook() -> None:
    assert progress_display(stream=io.StringIO()) is None


def test_a_closed_display_that_drew_nothing_writes_nothing() -> None:
    out = io.StringIO()
    show = progress_display(stream=out, notebook=False)
    assert show is not None
    show.close()
    assert out.getvalue() == ""


def test_the_widget_form_moves_an_int_progress_and_its_label(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import ipywidgets

    out = io.StringIO()
    show = progress_display(stream=out, notebook=True)
    assert show is not None
    assert isinstance(show.bar, ipywidgets.IntProgress)
    assert isinstance(show.label, ipywidgets.Label)
    show(_at(1))
    show(_at(3))
    assert (show.bar.value, show.bar.max) == (3, 4)
    assert show.label.value == bar_line(_at(3)).split("] ", 1)[1]
    assert "3/4 files, 4,500 rows, 3.8 MB" in show.label.value
    show.close()
    assert out.getvalue() == ""  # nothing of the text form


def test_the_widget_form_falls_back_to_the_text_line_without_ipywidgets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    out = io.StringIO()
    show = progress_display(stream=out, notebook=True)
    assert show is not None and show.bar is None
    show(_at(2))
    assert "2/4 files" in out.getvalue()
