"""Read raw extract values as their declared types, one column at a time.

Extracts arrive as CSV (all text) or Parquet (typed, but not always as declared). Each column
is converted to the dtype its :class:`~assist.features.schemas.Col` declares; a value that
cannot be read is set to missing and reported as ``bad_type`` for that row, so the row is
quarantined rather than failing the file (pandera's own coercion does not say which rows).
Blank text is a missing value for numbers, booleans and dates; booleans are read from
true/false, t/f, yes/no, y/n, 1/0 (any case); dates from ISO 8601 text. Dates before 1677
cannot be held as ``datetime64[ns]``: they are reported as ``implausible_date`` (they lie
before 1900); dates after 2262 as ``bad_type``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from assist.features.schemas import Col

TRUE_WORDS = frozenset({"true", "t", "1", "yes", "y"})
FALSE_WORDS = frozenset({"false", "f", "0", "no", "n"})
_NS_MIN = pd.Timestamp.min.as_unit("us")
_NS_MAX = pd.Timestamp.max.as_unit("us")
_INT64_LIMIT = 2.0**63


@dataclass
class Coerced:
    """A column as its declared dtype, and the rows (by rule) whose value could not be read."""

    values: pd.Series
    failed: dict[str, np.ndarray] = field(default_factory=dict)


def coerce_column(values: pd.Series, col: Col) -> Coerced:
    """``values`` as the declared dtype of ``col``; unreadable values become missing, reported."""
    kind = col.kind
    if kind in ("id", "str", "category"):
        return Coerced(_as_text(values))
    if _is_text(values):  # surrounding blanks are ignored; a blank value is a missing one
        text = _as_text(values).str.strip()
        values = text.mask(text == "")
    if kind == "int":
        return _as_int(values)
    if kind == "float":
        return _as_float(values)
    if kind == "bool":
        return _as_bool(values)
    if kind == "date":
        return _as_date(values)
    raise ValueError(f"column {col.name!r} has unknown kind {kind!r}")


def _failures(series: pd.Series, bad: np.ndarray, rule: str = "bad_type") -> Coerced:
    return Coerced(series, {rule: bad} if bad.any() else {})


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values.dtype) or values.dtype == object


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(pd.StringDtype())


def _numbers(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Values as Float64 (text parsed) and the mask of present values that are not numbers."""
    present = values.notna().to_numpy()
    if pd.api.types.is_bool_dtype(values.dtype):
        nums = pd.Series(pd.NA, index=values.index, dtype="Float64")
    elif pd.api.types.is_numeric_dtype(values.dtype):
        nums = values.astype("Float64")
    else:
        nums = pd.to_numeric(_as_text(values), errors="coerce").astype("Float64")
    arr = nums.to_numpy(dtype=float, na_value=np.nan)
    bad = present & ~np.isfinite(arr)
    return nums.mask(pd.Series(bad, index=values.index)), bad


def _as_int(values: pd.Series) -> Coerced:
    if pd.api.types.is_integer_dtype(values.dtype):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
        if np.nanmax(np.abs(arr), initial=0.0) < _INT64_LIMIT:
            return Coerced(values.astype("Int64"))
    nums, bad = _numbers(values)
    arr = nums.to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        not_int = np.isfinite(arr) & ((np.floor(arr) != arr) | (np.abs(arr) >= _INT64_LIMIT))
    bad = bad | not_int
    ints = pd.Series(np.where(bad | np.isnan(arr), 0, arr).astype(np.int64), index=values.index)
    out = ints.astype("Int64").mask(pd.Series(bad | np.isnan(arr), index=values.index))
    return _failures(out, bad)


def _as_float(values: pd.Series) -> Coerced:
    nums, bad = _numbers(values)
    return _failures(nums.astype("Float64"), bad)


def _as_bool(values: pd.Series) -> Coerced:
    present = values.notna().to_numpy()
    if pd.api.types.is_bool_dtype(values.dtype):
        return Coerced(values.astype("boolean"))
    if pd.api.types.is_numeric_dtype(values.dtype):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
        truth, falsity = arr == 1, arr == 0
    else:
        words = _as_text(values).str.lower()
        truth = words.isin(TRUE_WORDS).to_numpy(dtype=bool, na_value=False)
        falsity = words.isin(FALSE_WORDS).to_numpy(dtype=bool, na_value=False)
    out = pd.Series(pd.array(np.where(truth, True, False), dtype="boolean"), index=values.index)
    out = out.mask(pd.Series(~(truth | falsity), index=values.index))
    return _failures(out, present & ~(truth | falsity))


def _as_date(values: pd.Series) -> Coerced:
    present = values.notna().to_numpy()
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        dates = values.astype("datetime64[us]")
    elif _is_text(values):
        dates = pd.to_datetime(_as_text(values), format="ISO8601", errors="coerce").astype(
            "datetime64[us]")
    else:  # numbers or booleans are not dates
        dates = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    failed: dict[str, np.ndarray] = {}
    unreadable = present & dates.isna().to_numpy()
    too_early = (dates < _NS_MIN).to_numpy(dtype=bool, na_value=False)
    too_late = (dates > _NS_MAX).to_numpy(dtype=bool, na_value=False)
    if (unreadable | too_late).any():
        failed["bad_type"] = unreadable | too_late
    if too_early.any():
        failed["implausible_date"] = too_early
    out = dates.mask(pd.Series(too_early | too_late, index=values.index)).astype("datetime64[ns]")
    return Coerced(out, failed)


def arrow_text(values: pd.Series) -> pa.Array:
    """A text column as one Arrow ``large_string`` array."""
    arr = pa.array(values.astype(pd.StringDtype()).array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())
