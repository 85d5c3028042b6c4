"""Dated policy parameters: the local minimum-living line and the low-income multiple.

Shanghai's minimum-living line (最低生活保障标准), CNY per person per month. 2019-2021 values
are published figures; the July 2022 and July 2023 values are approximate (ARCHITECTURE and
DOMAIN notes) and are configuration: a district passes its own table to
:func:`minimum_living_line`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

#: effective date -> CNY per person per month
SHANGHAI_MINIMUM_LIVING_LINE: Mapping[str, float] = {
    "2019-04-01": 1160.0,
    "2020-04-01": 1240.0,
    "2021-07-01": 1330.0,
    "2022-07-01": 1420.0,  # approx.
    "2023-07-01": 1510.0,  # approx.
}
#: low-income family line as a multiple of the minimum-living line
LOW_INCOME_MULTIPLE = 2.0


def minimum_living_line(
    dates: pd.Series | pd.Timestamp | str,
    table: Mapping[str, float] = SHANGHAI_MINIMUM_LIVING_LINE,
) -> pd.Series | float:
    """Minimum-living line in force on each date (the latest entry effective on or before it)."""
    effective = pd.to_datetime(pd.Series(list(table.keys()))).to_numpy()
    values = np.asarray(list(table.values()), dtype=float)
    order = np.argsort(effective)
    effective, values = effective[order], values[order]
    scalar = not isinstance(dates, pd.Series)
    ts = pd.to_datetime(pd.Series([dates]) if scalar else dates)
    idx = np.searchsorted(effective, ts.to_numpy(dtype="datetime64[ns]"), side="right") - 1
    if (idx < 0).any():
        raise ValueError(
            f"no minimum-living line is configured before {ts[idx < 0].min().date()}; "
            f"the earliest entry is {pd.Timestamp(effective[0]).date()}"
        )
    out = pd.Series(values[idx], index=ts.index)
    return float(out.iloc[0]) if scalar else out


def month_end(snapshot: str) -> pd.Timestamp:
    """Last day of the month ``YYYY-MM``."""
    try:
        start = pd.Timestamp(f"{snapshot}-01")
    except ValueError as exc:
        raise ValueError(f"month {snapshot!r} is not written YYYY-MM") from exc
    return start + pd.offsets.MonthEnd(0)
