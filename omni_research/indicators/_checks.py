"""Parameter checks run when an indicator's expression is built."""

from __future__ import annotations

from omni_research.exceptions import ConfigurationError


def check_window(indicator: str, name: str, value: object, *, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, or ConfigurationError naming the indicator.

    Polars only rejects a bad window when the query runs, deep inside ``collect``; checking
    when the expression is built names the indicator and the parameter instead.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(
            f"{indicator}: parameter {name!r} must be an integer >= {minimum}, got {value!r}; "
            f"pass e.g. {name}={max(minimum, 14)}"
        )
    return value
