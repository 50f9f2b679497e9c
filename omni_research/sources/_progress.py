"""One progress display for every download: a text bar on a terminal, a widget in Jupyter.

:func:`progress_display` returns the ``progress`` callback the downloads take. On a
terminal it redraws one line on stderr (a bar of files done/total, rows, bytes, ETA); inside
a Jupyter kernel it shows an ``ipywidgets.IntProgress`` and a label next to it (ipywidgets
is imported only then; without it, the text line is drawn into the cell's stderr instead).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from omni_research.sources._summary import Progress

__all__ = ["ProgressDisplay", "bar_line", "progress_display"]


def bar_line(progress: Progress, /, *, width: int = 24) -> str:
    """One line for ``progress``: a bar of files done of total, then rows, bytes and ETA.

    Examples
    --------
    >>> p = Progress(unit="ohlcv BTCUSDT 1m 2025-01-06", done=1, total=4, rows=1440,
    ...              requests=3, bytes=250_000, elapsed=2.0)
    >>> bar_line(p, width=8)
    '[##------] 1/4 files, 1,440 rows, 0.2 MB, ETA 6 s  ohlcv BTCUSDT 1m 2025-01-06'
    """
    share = progress.done / progress.total if progress.total else 1.0
    filled = min(width, round(share * width))
    eta = "?" if progress.eta is None else f"{progress.eta:.0f} s"
    return (
        f"[{'#' * filled}{'-' * (width - filled)}] {progress.done}/{progress.total} files, "
        f"{progress.rows:,} rows, {progress.bytes / 1e6:.1f} MB, ETA {eta}  {progress.unit}"
    )


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython shell that is not the terminal one)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    return shell is not None and type(shell).__name__ != "TerminalInteractiveShell"


class ProgressDisplay:
    """The callback :func:`progress_display` returns: call it with a
    :class:`~omni_research.sources.Progress`, :meth:`close` it when the download ends.

    Attributes
    ----------
    bar, label : ipywidgets widgets or None
        The widget form's ``IntProgress`` and ``Label`` (None for the text form).
    """

    def __init__(self, *, stream: TextIO | None, widgets: Any = None) -> None:
        self._stream = stream
        self._drawn = False
        self._widgets = widgets
        self.bar: Any = None
        self.label: Any = None
        if widgets is not None:
            self.bar = widgets.IntProgress(min=0, max=1, value=0, description="download")
            self.label = widgets.Label(value="")

    def __call__(self, progress: Progress, /) -> None:
        line = bar_line(progress)
        if self.bar is not None:
            if not self._drawn:
                from IPython.display import display

                display(self._widgets.HBox([self.bar, self.label]))  # type: ignore[no-untyped-call]
            self.bar.max = max(progress.total, 1)
            self.bar.value = progress.done
            self.label.value = line.split("] ", 1)[1]
        else:
            stream = self._stream if self._stream is not None else sys.stderr
            print(f"\r{line}".ljust(100), end="", file=stream, flush=True)
        self._drawn = True

    def close(self) -> None:
        """End the display: the text line gets its newline; the widget stays as it is."""
        if self._drawn and self.bar is None:
            stream = self._stream if self._stream is not None else sys.stderr
            print(file=stream, flush=True)


def progress_display(
    *, stream: TextIO | None = None, notebook: bool | None = None
) -> ProgressDisplay | None:
    """The progress display for a download's ``progress`` argument, or None for none.

    Parameters
    ----------
    stream
        Where the text line goes (default: ``sys.stderr``).
    notebook
        Force the widget form (True) or the text form (False); by default the widget form
        inside a Jupyter kernel with ipywidgets installed.

    Returns
    -------
    ProgressDisplay or None
        The widget form in a notebook; the text line when ``stream`` (stderr) is a
        terminal, or in a notebook without ipywidgets; None otherwise (a log file or a
        pipe gets no redrawn line).

    Examples
    --------
    >>> from omni_research.sources import bybit, progress_display
    >>> show = progress_display()
    >>> bybit.download("research", symbols="BTCUSDT", start="2025-01-01",
    ...                end="2025-01-31", progress=show)  # doctest: +SKIP
    """
    in_notebook = _in_notebook() if notebook is None else notebook
    if in_notebook:
        try:
            import ipywidgets
        except ImportError:
            return ProgressDisplay(stream=stream)
        return ProgressDisplay(stream=stream, widgets=ipywidgets)
    target = stream if stream is not None else sys.stderr
    if notebook is None and not target.isatty():
        return None
    return ProgressDisplay(stream=stream)
