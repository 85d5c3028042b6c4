"""The coverage report with the case store's decisions: one computation for the coverage page,
``GET /api/v1/reports/coverage``, the stored download and ``assist report coverage``.

The report (:func:`assist.reports.report.coverage_report`) counts visits, findings and grants
from the department's records and the case store's decisions. Decisions are live, so the
stored report (``<workspace>/reports/<month>/coverage.json|.html``) keeps the case store's
state it was computed from (``case_store``); :func:`current` recomputes and rewrites it when
decisions were recorded or changed since, so every reader (page, API, download) reads the
same file with the same numbers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assist.reports.coverage_facts import DECISION_COLUMNS, month_facts
from assist.reports.report import (
    COVERAGE_VERSION,
    coverage_html,
    coverage_report,
    coverage_scores,
    household_coverage,
    report_folder,
    write_report,
)
from assist.serving.models import Decision, Referral, Snapshot
from assist.settings import Settings
from assist.storage import snapshot as snapshots

NAME = "coverage"
MONTH = re.compile(r"^\d{4}-\d{2}$")
#: the deprivation cutoff when no stored report names the scoring config's
DEFAULT_K = 0.3333


def case_store_state(session: Session) -> dict[str, Any]:
    """What the coverage report read from the case store: the number of decisions, the last
    id, the sum of their versions and the last change (any change alters one of them)."""
    n, last, versions, changed = session.execute(
        select(func.count(Decision.id), func.max(Decision.id), func.sum(Decision.version),
               func.max(Decision.updated_at))).one()
    return {"decisions": int(n or 0), "last_id": last, "versions": int(versions or 0),
            "changed_at": changed.isoformat() if changed is not None else None}


def decisions_frame(session: Session) -> pd.DataFrame:
    """Every decision with its referral's month: ``household_id, as_of, outcome,
    programmes_granted`` (the columns :mod:`assist.reports.coverage_facts` reads)."""
    rows = session.execute(
        select(Decision.household_id, Snapshot.as_of, Decision.outcome,
               Decision.programmes_granted)
        .join(Referral, Referral.id == Decision.referral_id)
        .join(Snapshot, Snapshot.id == Referral.snapshot_id)
        .order_by(Decision.updated_at, Decision.id)).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=list(DECISION_COLUMNS))


def compute(session: Session, settings: Settings, *, as_of: str, k: float = DEFAULT_K,
            previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The coverage report of ``as_of`` from the month's snapshot files, the store's records
    and the case store's decisions (read in this session); the parts of ``previous`` (the
    stored report) computed from what has not changed are taken from it. The case store's
    state is read before its decisions: a decision recorded in between makes the report look
    older than it is (recomputed once more), never newer."""
    state = case_store_state(session)
    return coverage_report(scores_dir=settings.scores_dir, store=settings.store_dir,
                           as_of=as_of, k=k, decisions=decisions_frame(session),
                           case_store=state, previous=previous)


def write(settings: Settings, report: dict[str, Any]) -> list[Path]:
    """Write the report's JSON and HTML (both languages) into its month's folder."""
    folder = report_folder(settings.workspace, str(report["as_of"]))
    return write_report(folder, NAME, report, coverage_html(report))


def _stored(settings: Settings, as_of: str) -> dict[str, Any] | None:
    path = report_folder(settings.workspace, as_of) / f"{NAME}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def current(session: Session, settings: Settings, *, as_of: str) -> dict[str, Any] | None:
    """The coverage report of ``as_of`` as stored, recomputed and rewritten first when the
    case store changed since it was computed (or it was computed without it); as stored when
    the month's snapshot files are not here to recompute from; None when neither exists."""
    stored = _stored(settings, as_of)
    state = case_store_state(session)
    if stored is not None and stored.get("case_store") == state \
            and stored.get("version") == COVERAGE_VERSION:
        return stored
    if not snapshots.exists(settings.scores_dir, as_of):
        return stored
    k = float(((stored or {}).get("deprivation") or {}).get("k") or DEFAULT_K)
    same = stored is not None and stored.get("version") == COVERAGE_VERSION
    report = compute(session, settings, as_of=as_of, k=k, previous=stored if same else None)
    write(settings, report)
    return report


#: columns of the list of households behind a count (besides its pseudonym)
LIST_COLUMNS = ("street_code", "community_code", "band", "probability", "referred",
                "verified_records", "verified_decisions", "confirmed", "assisted")


def households(session: Session, settings: Settings, *, as_of: str, measure: str,
               streets: tuple[str, ...] | None, street: str | None = None,
               community: str | None = None) -> pd.DataFrame:
    """The households behind a coverage count of ``as_of`` (``measure``: a column of
    :func:`assist.reports.report.household_coverage`), within ``streets`` (None: the
    district) and the given street or community; by street, then the highest probability
    first. The same computation as the report's counts (snapshot files, store, decisions)."""
    scores = coverage_scores(settings.scores_dir, as_of)
    facts = month_facts(settings.store_dir, as_of, scores.index, decisions_frame(session))
    table = household_coverage(scores, facts)
    keep = table[measure].astype(bool)
    place = scores["street_code"].astype("string")
    if streets is not None:
        keep &= place.isin(list(streets)).fillna(False)
    if street:
        keep &= (place == street).fillna(False)
    if community:
        keep &= (scores["community_code"].astype("string") == community).fillna(False)
    out = scores.loc[keep.to_numpy(), ["street_code", "community_code", "band", "probability"]]
    out = out.join(table.loc[keep.to_numpy(), list(LIST_COLUMNS[4:])])
    return out.sort_values(["street_code", "probability"], ascending=[True, False],
                           kind="stable")


def flagged(session: Session, snapshot: Snapshot, *, streets: tuple[str, ...] | None,
            street: str | None = None) -> pd.DataFrame:
    """The listed households of ``snapshot`` carrying an early-warning flag (the households
    the early-warning report counts), within ``streets`` and ``street``: street, community,
    band, probability, referred and whether a caseworker's decision is recorded."""
    q = (select(Referral.household_id, Referral.street_code, Referral.community_code,
                Referral.band, Referral.probability, Referral.status)
         .where(Referral.snapshot_id == snapshot.id, Referral.flag_key != ";"))
    if streets is not None:
        q = q.where(Referral.street_code.in_(streets))
    if street:
        q = q.where(Referral.street_code == street)
    rows = pd.DataFrame([tuple(r) for r in session.execute(q).all()],
                        columns=["household_id", "street_code", "community_code", "band",
                                 "probability", "status"]).set_index("household_id")
    rows["referred"] = True
    rows["verified_decisions"] = rows["status"] != "open"
    return rows.drop(columns="status").sort_values(["street_code", "probability"],
                                                   ascending=[True, False], kind="stable")


def report(session: Session, settings: Settings, *, as_of: str | None) -> dict[str, Any]:
    """The coverage report the API serves: of ``as_of`` (default: the loaded snapshot's
    month), brought up to date with the case store by :func:`current`; else the stored one
    as :func:`assist.serving.services.reports.load` finds it (with its 404s naming the
    command)."""
    from assist.serving.services.reports import load

    month = _month(session, as_of)
    found = current(session, settings, as_of=month) if month is not None else None
    return found if found is not None else load(settings, name=NAME, as_of=as_of)


def refresh(session: Session, settings: Settings, *, name: str, as_of: str | None) -> None:
    """Before a stored report is read as a file (download, print, PDF): bring the coverage
    report of ``as_of`` (default: the loaded snapshot's month) up to date with the case store,
    so the file says what the page and the API say. Other reports: nothing to do."""
    month = _month(session, as_of) if name == NAME else None
    if month is not None:
        current(session, settings, as_of=month)


def _month(session: Session, as_of: str | None) -> str | None:
    """``as_of`` when it is a month, else (None) the loaded snapshot's month, else None."""
    from assist.serving.services.snapshots import current_snapshot

    if as_of is None:
        snap = current_snapshot(session)
        as_of = snap.as_of if snap is not None else None
    return as_of if as_of is not None and MONTH.match(as_of) else None
