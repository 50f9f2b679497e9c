"""What every subcommand shares: the ``--root`` option and the table printing settings."""

from __future__ import annotations

import argparse

import polars as pl


def add_root(parser: argparse.ArgumentParser) -> None:
    """The data root option of the commands that read one (default: the shipped data)."""
    parser.add_argument("--root", default=None, help="data root (default: the shipped data_test/)")


def wide_tables(**options: object) -> pl.Config:
    """Polars' printing settings for a table on a terminal: every row, wide columns."""
    settings: dict[str, object] = {
        "tbl_rows": -1,
        "tbl_width_chars": 160,
        "fmt_str_lengths": 60,
        "tbl_hide_dataframe_shape": True,
    }
    settings.update(options)
    return pl.Config(**settings)  # type: ignore[arg-type]
