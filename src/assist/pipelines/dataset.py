"""Examples for the need model: a household in a month, its features and next month's outcome.

An example is (household, month m). Its features are ``features.build(tables, m)`` — records
known by the end of m — and its label is the outcome of the household's informative home
visit dated in month m + 1 (the latest one in that month; ``confirmed`` -> 1, ``not_in_need``
-> 0). Visits that could not reach the household or were declined say nothing; households
with no informative visit that month are unlabelled (NaN). So a label never comes from a
month whose records the features could see.

Case-store outcomes (``data.extra_labels``) label the month their referral was scored on and
win over the department's label (rules and drop counts: :mod:`assist.pipelines.casebook_labels`).

A district's own flat household table (:func:`table_dataset`) gives examples directly: its
YAML catalog's indicators, a 0/1 label column or a rule, and months when it has a snapshot
column (else the examples have no time order and validation is stratified k-fold).

The simulator's hidden truth is joined for evaluation only (:func:`attach_truth`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import Progress

from assist.errors import ConfigError, InputError
from assist.experiments.config import ExperimentConfig, resolve
from assist.features import CATALOG, build
from assist.features.attributes import household_attributes
from assist.features.catalog import Catalog, Tables
from assist.features.custom import expression_names, indicator_values, load_catalog, read_table
from assist.features.labels import LABEL_OF_OUTCOME
from assist.features.policy import month_end
from assist.features.view import WINDOW_MONTHS
from assist.ingest.pseudonym import Pseudonymiser
from assist.pipelines import casebook_labels as cl
from assist.pipelines.examples import Dataset, MonthData
from assist.pipelines.featurize import assemble, tables_by_month
from assist.settings import Settings
from assist.storage.store import (
    MANIFEST_FILE,
    file_sha256,
    list_snapshots,
    load_tables,
    store_buckets,
)

TRUTH_FILE = "need.parquet"
#: below this share of households found in the truth file, the join is refused (wrong key?)
TRUTH_MIN_MATCH = 0.5
EXTRA_LABEL_COLUMNS = ("household_id", "month", "outcome")


def next_month(month: str) -> str:
    """The month after ``month`` (``YYYY-MM``)."""
    return str(pd.Period(month, freq="M") + 1)


def outcomes_in_month(tables: Tables, month: str) -> pd.Series:
    """Outcome (1 confirmed, 0 not in need) of each household's latest informative visit dated
    in ``month`` in the department's verification records; households without one are
    absent. (Case-store labels are put over these by :func:`store_dataset`.)"""
    if "verifications" not in tables:
        raise InputError("source table 'verifications' is missing: labels need it")
    start = pd.Timestamp(f"{month}-01")
    end = month_end(month)
    v = tables["verifications"]
    v = v.drop_duplicates("verification_id", keep="last")
    date = v["visit_date"]
    keep = ((date >= start) & (date <= end)).fillna(False).to_numpy(dtype=bool)
    v = v.loc[keep]
    ev = pd.DataFrame({"household_id": v["household_id"].astype(str).to_numpy(),
                       "date": v["visit_date"].to_numpy(dtype="datetime64[ns]"),
                       "tie": v["verification_id"].astype(str).to_numpy(),
                       "outcome": v["outcome"].astype(str).to_numpy()})
    ev = ev.loc[ev["outcome"].isin(list(LABEL_OF_OUTCOME)).to_numpy()]
    ev = ev.sort_values(["household_id", "date", "tie"], kind="stable")
    latest = ev.drop_duplicates("household_id", keep="last")
    return pd.Series(latest["outcome"].map(LABEL_OF_OUTCOME).to_numpy(dtype=float),
                     index=pd.Index(latest["household_id"].to_numpy(), name="household_id"),
                     name="label")


def read_extra_labels(path: Path) -> pd.DataFrame:
    """Extra outcomes (CSV/Parquet with ``household_id, month, outcome[, date, referral_month,
    updated_at]``; see :mod:`assist.pipelines.casebook_labels`)."""
    df = read_table(path)
    missing = [c for c in EXTRA_LABEL_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"extra labels need columns {', '.join(EXTRA_LABEL_COLUMNS)}",
                         file=str(path), column=missing[0])
    return df


def store_dataset(*, store: Path, groups: Sequence[str], months: int | None = None,
                  min_history_months: int = 1, complete_months: int = 3,
                  catalog: Catalog = CATALOG, extra_labels: pd.DataFrame | None = None,
                  span: int = WINDOW_MONTHS, progress: Progress | None = None) -> Dataset:
    """Examples from the ingested store: every feature month with a following month.

    The last ``complete_months`` feature months keep every household (they are scored whole);
    earlier months keep only labelled households. Case-store labels (``extra_labels``) are put
    over the department's (:mod:`assist.pipelines.casebook_labels`); when they label the
    store's last month, its labelled households form a training-only month. The store is read
    once per ``span`` consecutive feature months
    (:func:`~assist.pipelines.featurize.tables_by_month`), one household bucket at a time
    (:mod:`assist.storage.buckets`); the examples do not depend on ``span`` nor on the
    bucket count, only time and memory do.
    """
    store = Path(store)
    snaps = list_snapshots(store)[-months:] if months else list_snapshots(store)
    held = set(snaps)
    feature_months = [m for m in snaps[min_history_months:] if next_month(m) in held]
    if not feature_months:
        raise InputError(f"the store holds {len(snaps)} snapshot(s) ({', '.join(snaps)}): too "
                         f"few for examples after skipping {min_history_months} month(s) of "
                         "short history (each example needs the following month)",
                         file=str(store))
    cb, counts = cl.prepare(extra_labels) if extra_labels is not None else (None, None)
    only = [snaps[-1]] if cb is not None and snaps[-1] in cl.months_with_labels(cb) else []
    notes = []
    if min_history_months:
        notes.append(f"first {min_history_months} snapshot month(s) used as look-back only")
    built = [*feature_months, *only]
    whole = {m for i, m in enumerate(built)
             if i >= len(feature_months) - complete_months and m not in only}
    parts = _bucket_parts(store, built, whole=whole, held=held, catalog=catalog, groups=groups,
                          casebook=cb, span=span, progress=progress)
    out = []
    for m in built:
        data = _joined(parts.pop(m))
        if cb is not None and counts is not None:
            y, mask = cl.merge(data.y, cb, m, counts)
            data = replace(data, y=y, casebook=mask)
        out.append(data if m in whole else data.subset(data.labelled))
    if cb is not None and counts is not None:
        cl.count_outside(cb, set(built), counts)
    return Dataset(source="store", temporal=True, months=tuple(out[:len(feature_months)]),
                   catalog=catalog, snapshots=tuple(snaps),
                   fingerprint=file_sha256(store / MANIFEST_FILE), notes=tuple(notes),
                   casebook_only=tuple(out[len(feature_months):]), casebook=counts)


def _bucket_parts(store: Path, built: list[str], *, whole: set[str], held: set[str],
                  catalog: Catalog, groups: Sequence[str], casebook: pd.DataFrame | None,
                  span: int, progress: Progress | None) -> dict[str, list[MonthData]]:
    """Each month's examples, one part per household bucket of the store (read bucket by
    bucket, so memory holds one bucket's tables). Outside ``whole`` months, a part keeps the
    rows labelled by the department or named by the case store's labels of that month."""
    n = store_buckets(store)
    task = progress.add_task("building features", total=len(built) * n) if progress else None
    named = ({} if casebook is None else
             {m: pd.Index(casebook.loc[(casebook["feature_month"] == m).to_numpy(),
                                       "household_id"]) for m in built})
    parts: dict[str, list[MonthData]] = {m: [] for m in built}
    for bucket in range(n):
        # the look-back tables are read once per `span` months and sliced to each month's
        # window (as `assist features` loads them), current-state tables month by month
        for m, tables in tables_by_month(store, built, span=span, bucket=bucket):
            if progress is not None and task is not None:
                progress.update(task, description=f"building features {m} ({bucket + 1}/{n})")
            data = _month_data(store, m, tables, held=held, catalog=catalog, groups=groups,
                               bucket=bucket)
            del tables  # a month's tables go before the next month's load
            if m not in whole:
                data = data.subset(data.labelled | data.X.index.isin(named.get(m, [])))
            parts[m].append(data)
            if progress is not None and task is not None:
                progress.advance(task)
    return parts


def _joined(parts: list[MonthData]) -> MonthData:
    """One month's per-bucket examples as one, in household order."""
    if len(parts) == 1:
        return parts[0]
    X = assemble([p.X for p in parts])  # noqa: N806 - scikit-learn convention
    return replace(parts[0], X=X, y=pd.concat([p.y for p in parts]).reindex(X.index),
                   groups=pd.concat([p.groups for p in parts]).reindex(X.index),
                   complete=all(p.complete for p in parts))


def _month_data(store: Path, m: str, tables: Tables, *, held: set[str], catalog: Catalog,
                groups: Sequence[str], bucket: int | None = None) -> MonthData:
    """One feature month's examples: features, the department's labels (from the visits of
    the next month, when the store holds it) and groups (case-store labels are put over the
    labels once the month's buckets are joined)."""
    X = build(tables, m, catalog)  # noqa: N806 - scikit-learn convention
    label_month = next_month(m)
    if label_month in held:
        y = outcomes_in_month(label_tables(store, label_month, held, bucket=bucket),
                              label_month)
        y = y.reindex(X.index)
    else:
        y = pd.Series(np.nan, index=X.index, name="label")
    attrs = household_attributes(tables, m)
    unknown = [g for g in groups if g not in attrs.columns]
    if unknown:
        raise ConfigError(f"section 'evaluation', field 'groups': {unknown} are not "
                          f"household attributes (known: {', '.join(attrs.columns)})")
    return MonthData(month=m, label_month=label_month, X=X, y=y,
                     groups=attrs.reindex(X.index)[list(groups)])


def label_tables(store: Path, month: str, held: set[str], *,
                  bucket: int | None = None) -> dict[str, pd.DataFrame]:
    """Visit records that can hold visits dated in ``month``: that snapshot and, for visits
    reported late, the next one (``bucket``: of that bucket's households)."""
    later = next_month(month)
    as_of, months = (later, 2) if later in held else (month, 1)
    return load_tables(store, as_of=as_of, months=months, tables=["verifications"],
                       bucket=bucket)


def true_need(path: Path, *, key: str, month: str) -> pd.Series:
    """The simulator's hidden true need (1.0 / 0.0) in ``month`` from ``path``, indexed by the
    household pseudonym under ``key`` (empty when the file has no such month)."""
    truth = pd.read_parquet(path, columns=["household_id", "true_need"],
                            filters=[("snapshot", "==", month)])
    ids = Pseudonymiser(key).column(truth["household_id"], kind="household").astype(str)
    need = pd.Series(truth["true_need"].astype(float).to_numpy(), index=ids.to_numpy())
    return need[~need.index.duplicated()]


def attach_truth(ds: Dataset, *, truth_dir: Path, key: str) -> Dataset:
    """Join the simulator's hidden true need (at each label month) to the complete months.

    Raw ids are pseudonymised with the store's key; when the file is absent or the ids do not
    match (another key or district), the dataset is returned with a note instead.
    """
    path = Path(truth_dir) / TRUTH_FILE
    if not path.is_file():
        return replace(ds, notes=(*ds.notes, f"no hidden truth at {path}: evaluation against "
                                             "true need skipped (expected for real data)"))
    months = []
    for m in ds.months:
        if not m.complete or m.label_month is None:
            months.append(m)
            continue
        need = true_need(path, key=key, month=m.label_month)
        if need.empty:
            need = true_need(path, key=key, month=m.month)
        need = need.reindex(m.X.index)
        if need.notna().mean() < TRUTH_MIN_MATCH:
            return replace(ds, notes=(*ds.notes, f"hidden truth at {path} does not match the "
                                                 "store's households (another pseudonym key or "
                                                 "district?): skipped"))
        months.append(replace(m, truth=need))
    return replace(ds, months=tuple(months), truth_source=str(path))


def table_dataset(*, table: Path, catalog: Path, label: str, id_column: str | None = None,
                  snapshot_column: str | None = None,
                  group_columns: Sequence[str] = ()) -> Dataset:
    """Examples from a flat household table with its YAML catalog and a label column or rule."""
    df = read_table(table)
    cat = load_catalog(catalog)
    X = indicator_values(df, cat)  # noqa: N806 - scikit-learn convention
    y = table_labels(df, label, catalog=cat, file=str(table))
    for col, field in [(c, "group_columns") for c in group_columns] + [
            (c, f) for c, f in ((id_column, "id_column"), (snapshot_column, "snapshot_column"))
            if c is not None]:
        if col not in df.columns:
            raise ConfigError(f"section 'data', field {field!r}: {col!r} is not a column of "
                              f"table {table}")
    if snapshot_column is None and "snapshot" in df.columns:
        snapshot_column = "snapshot"
    index = (df[id_column].astype(str) if id_column else
             pd.Series([f"row{i + 1}" for i in range(len(df))]))
    ids = pd.Index(index.to_numpy(), name="household_id")
    X.index = ids
    y.index = ids
    groups = df[list(group_columns)].set_axis(X.index)
    notes = []
    if snapshot_column is None:
        notes.append("temporal validation was not possible: the table has no snapshot column, "
                     "so folds are stratified k-fold over labelled rows")
        months = (MonthData(month="all", label_month=None, X=X, y=y, groups=groups),)
        snaps: tuple[str, ...] = ()
    else:
        snap = df[snapshot_column].astype(str).to_numpy()
        snaps = tuple(sorted(set(snap)))
        months = tuple(MonthData(month=s, label_month=None, X=X.loc[snap == s], y=y.loc[snap == s],
                                 groups=groups.loc[snap == s]) for s in snaps)
        notes.append(f"labels are taken from the table's rows as given (column or rule {label!r}); "
                     "they must describe outcomes after each row's snapshot")
    for m in months:
        if m.X.index.has_duplicates:
            raise InputError(f"household ids repeat within snapshot {m.month}",
                             file=str(table), column=id_column or "(row number)")
    return Dataset(source="table", temporal=snapshot_column is not None, months=months,
                   catalog=cat, snapshots=snaps, fingerprint=file_sha256(Path(table)),
                   notes=tuple(notes))


def table_labels(df: pd.DataFrame, label: str, *, catalog: Catalog, file: str) -> pd.Series:
    """The label of each row: a 0/1 column, or a rule true for the positive class (NaN when
    a column the rule reads is missing)."""
    if label in df.columns:
        names = {label}
        raw = df[label]
        if pd.api.types.is_bool_dtype(raw.dtype):
            y = raw.astype(float)
        else:
            y = pd.to_numeric(raw, errors="coerce").astype(float)
            bad = (raw.notna() & ~y.isin([0.0, 1.0])).to_numpy()
            if bad.any():
                raise InputError(f"label column holds values other than 0/1 (e.g. "
                                 f"{raw[bad].iloc[0]!r}); give a rule such as "
                                 f"'{label} <= 2' instead", file=file, column=label)
    else:
        try:
            names = expression_names(label)
        except ValueError as exc:
            raise ConfigError(f"section 'data', field 'label': {exc}") from None
        unknown = sorted(names - set(df.columns))
        if unknown:
            raise ConfigError(f"section 'data', field 'label': {label!r} is neither a column nor "
                              f"a rule over columns ({', '.join(map(repr, unknown))} not found)")
        try:
            hit = pd.Series(np.asarray(df.eval(label)), index=df.index)
        except Exception as exc:  # noqa: BLE001 - pandas raises many types for a bad expression
            raise ConfigError(f"section 'data', field 'label': cannot evaluate {label!r}: "
                              f"{exc}") from None
        y = hit.astype(bool).astype(float)
        y[df[sorted(names)].isna().any(axis=1).to_numpy()] = np.nan
    leaks = [i.id for i in catalog if (i.column in names) or
             (i.expr is not None and names & expression_names(i.expr))]
    if leaks:
        raise ConfigError(f"section 'data', field 'label': indicators {leaks} read the label's "
                          "column(s): the model would see the answer")
    return y.rename("label").reset_index(drop=True)


def dataset_from_config(config: ExperimentConfig, *, base_dir: Path, settings: Settings,
                        progress: Progress | None = None) -> Dataset:
    """The run's examples, as the config's ``data`` section says (truth joined when found)."""
    d = config.data
    if d.source == "table":
        return table_dataset(table=resolve(d.table, base_dir), catalog=resolve(d.catalog, base_dir),
                             label=d.label, id_column=d.id_column,
                             snapshot_column=d.snapshot_column, group_columns=d.group_columns)
    extra = read_extra_labels(resolve(d.extra_labels, base_dir)) if d.extra_labels else None
    ds = store_dataset(store=resolve(d.store, base_dir) or settings.store_dir,
                       groups=config.evaluation.groups, months=d.months,
                       min_history_months=d.min_history_months,
                       complete_months=config.validation.test_folds, extra_labels=extra,
                       progress=progress)
    if d.truth == "off":
        return ds
    return attach_truth(ds, truth_dir=resolve(d.truth, base_dir) or settings.truth_dir,
                        key=settings.pseudonym_key.get_secret_value())
