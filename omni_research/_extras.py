"""The optional dependency stacks (pyproject.toml's extras) and the one check that names them.

The core install (``pip install omni-research``) holds the catalog, validation, indicators,
bars, backtests, P&L and the CLI. Charts, widgets and reports need an extra; importing them
without it raises :class:`~omni_research.exceptions.ConfigurationError` saying which one, before
any heavy import runs (the check only looks the modules up).
"""

from __future__ import annotations

import importlib.util

from omni_research.exceptions import ConfigurationError

# extra -> the modules it installs (import names; pykmip's is kmip); a test keeps
# this table equal to pyproject.toml's [project.optional-dependencies]
EXTRAS: dict[str, tuple[str, ...]] = {
    "notebook": (
        "matplotlib",
        "ipywidgets",
        "anywidget",
        "jupyterlab",
        "ipykernel",
        "nbclient",
        "nbconvert",
        "nbformat",
        "papermill",
    ),
    "reports": (
        "matplotlib",
        "markdown",
        "nbclient",
        "nbconvert",
        "nbformat",
        "papermill",
        "ipykernel",
    ),
    "sources": ("httpx", "tenacity", "vaderSentiment"),
    "cloud": ("obstore",),
    "distributed": ("ray",),
    "security": ("kmip", "cryptography"),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken install, or a module blocked in sys.modules
        return False


def require_extra(extra: str, feature: str, *, modules: tuple[str, ...] | None = None) -> None:
    """Raise ConfigurationError unless ``extra``'s modules (or just ``modules``) are installed.

    Parameters
    ----------
    extra
        The extra that installs them: ``"notebook"`` or ``"reports"``.
    feature
        What needs them, for the message (``"omni_research.reports"``).
    modules
        The modules ``feature`` needs, when fewer than the whole extra.
    """
    missing = [m for m in (modules or EXTRAS[extra]) if not _installed(m)]
    if missing:
        also = sorted(n for n, mods in EXTRAS.items() if n != extra and set(missing) <= set(mods))
        hint = f" (also in [{', '.join(also)}])" if also else ""
        verb = "is" if len(missing) == 1 else "are"
        raise ConfigurationError(
            f"{feature} needs {', '.join(missing)}, which {verb} not installed; expected the "
            f"[{extra}] extra{hint}: pip install 'omni-research[{extra}]' "
            "(or 'omni-research[all]' for everything)"
        )
