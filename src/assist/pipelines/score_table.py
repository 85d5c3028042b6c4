"""Stage ``score`` for a district's own flat household table and YAML catalog.

A platform that exports one household table (CSV or Parquet, one row per household, see
:mod:`assist.features.custom`) and trained on it (``data.source: table``) scores it here with
the store path's own functions (:mod:`assist.pipelines.score`): :func:`score_frame` with the
YAML catalog (need model, calibrated probability, band, deprivation index), programme matching,
:func:`allocate_carried` (decisions carried forward, visits allocated with the scoring config),
:func:`explain_columns` (TreeSHAP top factors named by the YAML catalog), and the same scoring
snapshot (:func:`assist.storage.snapshot.write_snapshot`) that ``assist casebook load`` and the
pages read.

What differs from the store path, and is said in the summary's ``notes``:

* streets and communities come from the columns the catalog's ``jurisdiction`` section (or the
  CLI) names; without them the whole table is ranked as one street, :data:`ONE_STREET`;
* programme rules read facts by indicator id (:mod:`assist.models.matching`): a rule whose
  facts the YAML catalog lacks never matches, so a programme none of whose rules can match is
  not matched — and a household with no programme is no visit candidate (a visit brings an
  offer). Household attributes (``size``, ``head_age``, ...) are read from same-named columns;
* nobody is known to receive a programme (a flat table has no assistance records);
* no early-warning flags (they compare with last month's features, which a flat table lacks),
  no month reports and no truth check.

The snapshot's config hash covers the scoring config, the table and the catalog, so a changed
table is a new revision of the month (``assist casebook load`` replaces the loaded one).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assist.errors import ConfigError, InputError
from assist.experiments.tracking import MODEL_NAME
from assist.features.catalog import Catalog
from assist.features.custom import check_columns, indicator_values, read_table
from assist.features.jurisdiction import load_jurisdiction
from assist.models import matching
from assist.models.need import IncompatibleModelError, NeedModel
from assist.pipelines.score import (
    Carried,
    ScoreRun,
    ScoringConfig,
    _referrals,
    allocate_carried,
    carry_columns,
    explain_columns,
    read_carried_decisions,
    resolve_model,
    score_frame,
    summarise,
)
from assist.storage import snapshot
from assist.storage.store import file_sha256

#: the street (and community) code of every household of a table that declares none
ONE_STREET = "all"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class TableColumns:
    """Columns of the flat table that scoring reads besides the catalog's (None: not given)."""

    id: str | None = None
    #: month of each row (default: ``snapshot`` when the table has it)
    month: str | None = None
    #: street and community (default: the catalog's ``jurisdiction`` section)
    street: str | None = None
    community: str | None = None


@dataclass(frozen=True)
class TableMonth:
    """One month of a flat table, ready to score."""

    as_of: str
    #: indicator values (catalog ids), indexed by household id
    values: pd.DataFrame
    #: ``street_code``, ``community_code`` and the attribute facts the table has
    attributes: pd.DataFrame
    notes: tuple[str, ...]


def resolve_table_model(*, catalog: Catalog, catalog_path: Path, model: str = "production",
                        model_path: Path | None = None, tracking_uri: str | None = None,
                        registered_model: str = MODEL_NAME) -> tuple[NeedModel, str]:
    """The need model and its version label (:func:`resolve_model`), refused in one line
    unless it was trained on this catalog: name, version and indicator ids."""
    where = f"catalog file {catalog_path} ({catalog.name!r}, version {catalog.version!r})"
    try:
        need, version = resolve_model(model=model, model_path=model_path,
                                      tracking_uri=tracking_uri,
                                      registered_model=registered_model, catalog=catalog)
    except IncompatibleModelError as exc:  # its text names a temporary download and "the code"
        label = f"file:{Path(model_path).name}" if model_path else f"{registered_model}/{model}"
        why = str(exc).split(" was trained ", 1)[-1].replace("running code", "catalog")
        raise IncompatibleModelError(f"the model does not fit {where}: {label} was trained "
                                     f"{why.replace('the code', 'the catalog')}") from None
    if need.catalog_name_ != catalog.name:
        raise IncompatibleModelError(
            f"the model does not fit {where}: {version} was trained with catalog "
            f"{need.catalog_name_!r}; train on this catalog (`assist train`, data.source: table)")
    return need, version


def read_month(*, table: Path, catalog: Catalog, catalog_path: Path,
               columns: TableColumns = TableColumns(), as_of: str | None = None) -> TableMonth:
    """The households of ``as_of`` in the flat table: indicator values and jurisdictions.

    A table with a month column scores one of its months (default: the latest); one without
    scores all its rows as ``as_of`` (default: this month). Ids come from the id column, else
    from row numbers (``row1``, ... as training numbers them)."""
    if as_of is not None and not _MONTH.match(as_of):
        raise InputError(f"as-of month {as_of!r} is not written YYYY-MM")
    df = read_table(table)
    cols = _columns(df, table=table, columns=columns, catalog_path=catalog_path)
    check_columns(catalog, df.columns, table=str(table))
    values = indicator_values(df, catalog)  # all rows: a bad value's row is the file's row
    ids = (df[cols.id].astype(str) if cols.id else
           pd.Series([f"row{i + 1}" for i in range(len(df))], index=df.index))
    notes = [] if cols.id else ["household ids are row numbers (row1, row2, ...): name the id "
                                "column (--id-column) so the case store can follow households"]
    if cols.month:
        month = df[cols.month].astype(str)
        months = sorted(set(month))
        as_of = as_of or months[-1]
        if as_of not in months:
            raise InputError(f"no rows of month {as_of} (months: {', '.join(months)})",
                             file=str(table), column=cols.month)
        keep = (month == as_of).to_numpy()
        notes.append(f"month {as_of}: {int(keep.sum()):,} of {len(df):,} rows "
                     f"(column {cols.month!r})")
    else:
        keep = np.ones(len(df), dtype=bool)
        if as_of is None:
            as_of = dt.date.today().strftime("%Y-%m")
            notes.append(f"the table has no month column: scored as of {as_of} (this month)")
    dup = ids[keep].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(keep)[int(dup.argmax())]) + 1
        raise InputError(f"household id {ids[keep].iloc[int(dup.argmax())]!r} repeats",
                         file=str(table), column=cols.id or "(row number)", row=row)
    index = pd.Index(ids[keep].to_numpy(), name="household_id")
    attrs, jnote = _attributes(df.loc[keep], cols, index)
    return TableMonth(as_of=as_of, values=values.loc[keep].set_axis(index),
                      attributes=attrs, notes=(*notes, jnote))


def _columns(df: pd.DataFrame, *, table: Path, columns: TableColumns,
             catalog_path: Path) -> TableColumns:
    """The columns to read: the CLI's, else the catalog's ``jurisdiction``; each must exist."""
    juris = load_jurisdiction(catalog_path)
    cols = TableColumns(
        id=columns.id,
        month=columns.month or ("snapshot" if "snapshot" in df.columns else None),
        # the CLI's street (and community) replace the catalog's section as a whole
        street=columns.street or (juris.street if juris else None),
        community=(columns.community if columns.street or not juris else
                   columns.community or juris.community))
    sources = {"id": "--id-column", "month": "--month-column"}
    for field in ("id", "month", "street", "community"):
        col = getattr(cols, field)
        if col is None or col in df.columns:
            continue
        given = getattr(columns, field) is not None
        source = sources.get(field, f"--{field}-column" if given else
                             f"catalog file {catalog_path}, field 'jurisdiction.{field}'")
        raise InputError(f"{col!r} ({source}) is not a column of the table",
                         file=str(table), column=col)
    if cols.community and not cols.street:
        raise InputError("a community column needs a street column too (--street-column or "
                         "the catalog's jurisdiction.street)", file=str(table))
    return cols


def _attributes(rows: pd.DataFrame, cols: TableColumns,
                index: pd.Index) -> tuple[pd.DataFrame, str]:
    """Street, community and attribute facts of the rows, and a note of where they came from."""
    if cols.street:
        street = rows[cols.street].astype("string").fillna("(none)")
        community = (rows[cols.community].astype("string").fillna("(none)") if cols.community
                     else street)
        note = (f"ranked per street (column {cols.street!r}) and community ("
                + (f"column {cols.community!r})" if cols.community else "the street)"))
    else:
        street = community = pd.Series(ONE_STREET, index=rows.index, dtype="string")
        note = (f"the table declares no street or community column: ranked as one street "
                f"{ONE_STREET!r} (declare jurisdiction: {{street, community}} in the catalog)")
    out = pd.DataFrame({"street_code": street.to_numpy(), "community_code": community.to_numpy()},
                       index=index)
    for name in matching.ATTRIBUTE_FACTS:
        if name in rows.columns:
            out[name] = pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=float)
    return out, note


def match_programmes(values: pd.DataFrame, attributes: pd.DataFrame,
                     table: matching.RuleTable) -> tuple[matching.Match, list[str]]:
    """Programme matching over the facts the catalog has (a missing fact never matches), and
    notes naming the programmes that cannot match and the facts they lack."""
    facts = matching.facts_frame(values, attributes)
    absent = set(matching.FACTS) - set(facts.columns)
    facts = facts.join(pd.DataFrame(np.nan, index=facts.index, columns=sorted(absent)))
    notes, partly = [], []
    for p in table.programmes:
        lacks = [sorted({c.fact for c in r.conditions} & absent) for r in p.rules]
        if all(lacks):
            need = sorted({f for lack in lacks for f in lack})
            notes.append(f"programme {p.code!r} not matched: the catalog lacks the fact(s) "
                         f"{', '.join(need)}")
        elif any(lacks):
            partly.append(p.code)
    if partly:
        notes.append(f"programmes {', '.join(partly)}: only the rules over facts the catalog has "
                     "are matched")
    notes.append("nobody is known to receive a programme (a flat table has no assistance "
                 "records)")
    return matching.match(facts, table), notes


def table_digest(config_hash: str, *, table: Path, catalog_path: Path) -> str:
    """The snapshot's config hash: scoring config, table and catalog (a change: new revision)."""
    text = f"{config_hash}|{file_sha256(Path(table))}|{file_sha256(Path(catalog_path))}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def run_table_scoring(*, table: Path, catalog: Catalog, catalog_path: Path, out: Path,
                      model: NeedModel, model_version: str, config: ScoringConfig,
                      config_hash: str, as_of: str | None = None,
                      columns: TableColumns = TableColumns(),
                      decisions: Path | None = None) -> ScoreRun:
    """Score a month of the flat table and write its snapshot (see the module docstring);
    ``decisions``: the case store's decisions snapshot carried forward (none: no decisions)."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 3)

    tm = read_month(table=table, catalog=catalog, catalog_path=catalog_path, columns=columns,
                    as_of=as_of)
    lap("features")
    scores = score_frame(model=model, values=tm.values, attributes=tm.attributes,
                         config=config, catalog=catalog)
    clash = sorted(set(catalog.ids) & {*scores.columns, "candidate", "allocated", "warning"})
    if clash:
        raise ConfigError(f"catalog file {catalog_path}: indicator id(s) {', '.join(clash)} "
                          "are names of scoring columns; rename them")
    lap("scores")
    m, match_notes = match_programmes(tm.values, tm.attributes, config.rule_table())
    scores["referable_programmes"] = m.referable.sum(axis=1).astype("int64")
    lap("matching")
    dec, source = read_carried_decisions(decisions)
    carried = allocate_carried(scores=scores, match=m, flags=None, decisions=dec,
                               as_of=tm.as_of, config=config, source=source)
    lap("allocation")
    listed = carried.alloc.visit.index.union(carried.listed)
    expl = explain_columns(model=model, values=tm.values.loc[listed],
                           probability=scores["probability"], top=config.explain_top,
                           catalog=catalog)
    lap("explanations")
    return _write(out=out, tm=tm, scores=scores, carried=carried, expl=expl, listed=listed,
                  notes=[*tm.notes, *match_notes], model_version=model_version, config=config,
                  digest=table_digest(config_hash, table=table, catalog_path=catalog_path),
                  config_hash=config_hash, table=table, catalog=catalog,
                  catalog_path=catalog_path, timings=timings, t0=t0)


def _write(*, out: Path, tm: TableMonth, scores: pd.DataFrame, carried: Carried,
           expl: pd.DataFrame, listed: pd.Index, notes: list[str], model_version: str,
           config: ScoringConfig, digest: str, config_hash: str, table: Path, catalog: Catalog,
           catalog_path: Path, timings: dict[str, float], t0: float) -> ScoreRun:
    """The snapshot's tables and summary, as :func:`assist.pipelines.score.run_scoring` writes."""
    m, alloc = carried.match, carried.alloc
    chosen = alloc.visit.index[alloc.visit.to_numpy()]
    scores["candidate"] = scores.index.isin(alloc.visit.index)
    scores["allocated"] = scores.index.isin(chosen)
    scores["warning"] = False
    scores = scores.join(carry_columns(carried)).join(expl).join(tm.values)
    referrals = _referrals(scores=scores, listed=listed, match=m, alloc=alloc, flags=None)
    notes.append("no early-warning flags: they compare with last month's features, which a "
                 "flat table does not keep")
    summary = summarise(
        as_of=tm.as_of, model_version=model_version, config=config, config_hash=digest,
        data_snapshot={"table": str(table), "table_sha256": file_sha256(Path(table)),
                       "catalog": str(catalog_path), "as_of": tm.as_of},
        scores=scores, match=m, alloc=alloc, referrals=referrals, flag_counts=None,
        previous_source="none: a flat table has no previous month's features",
        truth_dir=None, key=None, timings=timings)
    summary |= {"catalog_version": catalog.version,
                "catalog": {"name": catalog.name, "version": catalog.version,
                            "indicators": catalog.ids},
                "scoring_config_hash": config_hash, "carry_forward": carried.summary,
                "notes": notes}

    def finish() -> dict[str, Any]:
        timings["write"] = round(time.perf_counter() - t0 - sum(timings.values()), 3)
        summary["seconds"] = round(time.perf_counter() - t0, 3)
        return summary

    folder = snapshot.write_snapshot(out, tm.as_of, scores=scores, referrals=referrals,
                                     summary=finish, model_version=model_version,
                                     config_hash=digest)
    return ScoreRun(folder=folder, summary=summary)
