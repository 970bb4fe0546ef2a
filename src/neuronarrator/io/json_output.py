"""Strict JSON of the project's documents (reports, benchmark results): numpy values as plain numbers,
NaN and infinities as null (strict JSON has neither), paths as strings."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["dumps", "finite", "json_default"]


def finite(value: Any) -> Any:
    """NaN and infinities → None, recursively (a skipped task's metrics, an undefined score)."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, np.ndarray):
        return finite(value.tolist())
    if isinstance(value, float | np.floating) and not math.isfinite(float(value)):
        return None
    return value


def json_default(value: Any) -> Any:
    """``json.dumps``' fallback: numpy scalars and arrays, paths."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any, indent: int | None = 2) -> str:
    """Strict JSON text of ``value`` (:func:`finite` first; ValueError if a NaN were left)."""
    return json.dumps(finite(value), indent=indent, default=json_default, allow_nan=False)
