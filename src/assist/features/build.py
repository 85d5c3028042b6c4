"""Source tables -> one row of indicator values per household, as of a month.

The one feature code path: training, batch scoring and the API all call :func:`build`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assist.features.catalog import Catalog, Tables
from assist.features.indicators import CATALOG
from assist.features.view import SourceView


def build(tables: Tables, as_of: str, catalog: Catalog = CATALOG) -> pd.DataFrame:
    """Indicator values per household (index ``household_id``, one float column per indicator).

    Only records known by the end of ``as_of`` (``YYYY-MM``) are used. ``fill`` missing
    rules are applied; other missing values stay NaN (see each indicator's rule).
    """
    sources = sorted({s for ind in catalog for s in ind.sources})
    view = SourceView(tables, as_of, required=sources)
    columns = {}
    for ind in catalog:
        if ind.compute is None:
            raise ValueError(f"indicator {ind.id!r} of catalog {catalog.name!r} has no compute function")
        values = pd.Series(np.asarray(ind.compute(view), dtype=float), index=view.households)
        columns[ind.id] = ind.fill_missing(values)
    return pd.DataFrame(columns, index=view.households)


def dimension_profile(values: pd.DataFrame, catalog: Catalog = CATALOG) -> pd.DataFrame:
    """Per household and dimension, the weighted share of the dimension's indicators deprived (0-1)."""
    deprived = catalog.deprivation(values).astype(float)
    weights = catalog.weights
    out = {}
    for dim, inds in catalog.by_dimension().items():
        ids = [i.id for i in inds]
        w = weights[ids]
        out[dim] = deprived[ids].to_numpy() @ (w.to_numpy() / w.sum())
    return pd.DataFrame(out, index=values.index)
