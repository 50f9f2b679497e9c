"""Build hook: the wheel ships the repository's ``data_test/`` as ``omni_research/data_test/``.

Everything else about the build lives in pyproject.toml. The test root stays at the top of the
repository (tests, the Makefile, notebooks and README use it there; ``make-test-data``
regenerates it there), so the wheel copies it in at build time instead of the repository
holding two copies. Editable installs skip the copy: ``omni_research.config.data_test_root``
finds the checkout's folder instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_TEST = Path(__file__).resolve().parent / "data_test"
# written by `make demo` / `omni-research report`, never shipped
SKIP = {DATA_TEST / "exports" / "reports"}


class BuildPyWithDataTest(build_py):
    """``build_py`` plus a copy of ``data_test/`` into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "omni_research" / "data_test"

        def ignore(folder: str, names: list[str]) -> set[str]:
            skipped = {n for n in names if Path(folder, n) in SKIP}
            return skipped | {n for n in names if n == "__pycache__" or n.startswith(".")}

        shutil.copytree(DATA_TEST, target, ignore=ignore, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithDataTest})
