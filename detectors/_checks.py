"""Parameter checks shared by the detectors: each raises ValueError naming parameter, value and range."""

from __future__ import annotations

import math

import numpy as np


def check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    """``value`` as an int in ``[lo, hi]``; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")  # noqa: TRY004 - the contract is ValueError
    if value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be {rng}, got {value!r}")
    return int(value)


def check_float(name: str, value, lo: float, hi: float = math.inf, *, lo_open: bool = False,
                hi_open: bool = False) -> float:
    """``value`` as a float within the stated bounds (NaN never passes); ValueError otherwise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or math.isnan(v) or v < lo or v > hi \
            or (lo_open and v == lo) or (hi_open and v == hi):
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}, got {value!r}")
    return v


def check_choice(name: str, value, choices) -> str:
    """``value`` if it is one of ``choices``; ValueError otherwise."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)!r}, got {value!r}")
    return value


def as_float_array(name: str, values) -> np.ndarray:
    """A 1-d float64 view/copy of ``values``; ValueError for non-numeric or non-1-d input."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric, got dtype {np.asarray(values).dtype}") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {arr.shape}")
    return arr


def finite_values(name: str, values) -> tuple[np.ndarray, int]:
    """The finite values of ``values`` (as :func:`as_float_array`) and how many were skipped."""
    v = as_float_array(name, values)
    ok = np.isfinite(v)
    if ok.all():
        return v, 0
    return v[ok], int((~ok).sum())


def to_float_column(values) -> np.ndarray:
    """A column as float64 with None -> NaN (object columns of numbers and None included).

    Raises TypeError/ValueError when an element is not a number.
    """
    try:
        return np.asarray(values, dtype=np.float64)
    except TypeError:
        arr = np.asarray(values, dtype=object)
        return np.where(np.equal(arr, None), np.nan, arr).astype(np.float64)
