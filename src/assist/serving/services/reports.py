"""Reports for managers and data scientists: the one place the API and the pages get them.

Stored reports (coverage, drift, early_warning, fairness, overrides) are files written by the
batch stages to ``<workspace>/reports/<folder>/<name>.json|.html``, where ``<folder>`` is a
month ``YYYY-MM`` (or ``model-<version>`` for a model's own fairness report). The override
report is also computed live from the case store (decisions are live data), and the
early-warning counts live from a loaded snapshot.

Every report is an aggregate (counts and rates per street, band or group, never a household
row), so reading one is not a household-level read and is not written to the audit log.
Errors are :class:`~assist.serving.errors.ApiError` with stable codes: ``unknown_report`` (404),
``report_not_found`` (404, with ``command``: what to run to produce it), ``invalid_month``
(422), ``report_unreadable`` (503).
"""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from assist.models.overrides import GROUP_NAMES, indicator_groups, outcome_value
from assist.reports import pdf as printing
from assist.reports.cases import early_warning_report, overrides_report
from assist.reports.i18n import LANGUAGES, translators
from assist.reports.render import stored_html
from assist.reports.report import REPORTS, REPORTS_DIR
from assist.serving.errors import ApiError
from assist.serving.models import Decision, HouseholdScore, Referral, Snapshot
from assist.settings import Settings

NAMES: tuple[str, ...] = tuple(REPORTS)
_MONTH = re.compile(r"^\d{4}-\d{2}$")
#: household attributes compared in the override report when the month's features are kept
ATTRIBUTE_GROUPS = ("head_hukou", "head_sex", "head_age_band")
_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _root(settings: Settings) -> Path:
    return Path(settings.workspace) / REPORTS_DIR


def _folders(settings: Settings) -> list[str]:
    """Report folders: months newest first, then other folders (``model-*``) by name."""
    root = _root(settings)
    if not root.is_dir():
        return []
    names = [p.name for p in root.iterdir() if p.is_dir() and _FOLDER.match(p.name)]
    months = sorted((n for n in names if _MONTH.match(n)), reverse=True)
    return months + sorted(n for n in names if not _MONTH.match(n))


def _check_name(name: str) -> None:
    if name not in REPORTS:
        raise ApiError(404, "unknown_report", f"no report named {name!r}", field="path.name",
                       known=list(NAMES))


def _check_as_of(as_of: str | None) -> None:
    if as_of is not None and not _FOLDER.match(as_of):
        raise ApiError(422, "invalid_month", "as_of must be a month YYYY-MM or a report folder "
                       "name (letters, digits, '.', '_', '-')", field="query.as_of")


def _missing(name: str, as_of: str | None) -> ApiError:
    command = REPORTS[name].format(as_of=as_of or "YYYY-MM")
    where = f" for {as_of}" if as_of else ""
    return ApiError(404, "report_not_found", f"no {name} report{where}: run `{command}`",
                    command=command)


def available(settings: Settings) -> list[dict[str, Any]]:
    """Stored reports, newest month first: ``[{"name", "as_of", "json": Path, "html": Path |
    None}]`` (``as_of`` is the folder: a month, or ``model-<version>``; ``html`` is None when
    only the JSON was written). Names are those of :data:`NAMES`, in that order per folder."""
    out = []
    root = _root(settings)
    for folder in _folders(settings):
        for name in NAMES:
            j = root / folder / f"{name}.json"
            if j.is_file():
                h = j.with_suffix(".html")
                out.append({"name": name, "as_of": folder, "json": j,
                            "html": h if h.is_file() else None})
    return out


def _locate(settings: Settings, name: str, as_of: str | None, suffix: str) -> Path:
    _check_name(name)
    _check_as_of(as_of)
    root = _root(settings)
    for folder in [as_of] if as_of else _folders(settings):
        p = root / folder / f"{name}{suffix}"
        if p.is_file():
            return p
    raise _missing(name, as_of)


def load(settings: Settings, *, name: str, as_of: str | None = None) -> dict[str, Any]:
    """The JSON payload of a stored report (of ``as_of``, else the newest month that has it).

    Shapes: coverage -- see :func:`assist.reports.report.coverage_report`; drift --
    :func:`assist.reports.report.drift_report`; early_warning -- :func:`early_warning`;
    overrides -- :func:`overrides`; fairness -- :func:`assist.reports.model
    .fairness_report` (``{"model_version", "run_id", "as_of", "months", "selection",
    "headline", "audits": {"verified" | "truth": audit}}``; ``as_of`` is the folder: the
    scored month, with ``scored_month``, or ``model-<version>``).
    Raises ``ApiError`` 404 ``unknown_report`` / ``report_not_found`` (with ``command``).
    """
    path = _locate(settings, name, as_of, ".json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        command = REPORTS[name].format(as_of=path.parent.name)
        raise ApiError(503, "report_unreadable", f"the stored {name} report of "
                       f"{path.parent.name} cannot be read: run `{command}` again",
                       command=command) from None


def html_path(settings: Settings, *, name: str, as_of: str | None = None) -> Path:
    """The HTML file of a stored report (same lookup and errors as :func:`load`)."""
    return _locate(settings, name, as_of, ".html")


def printed_html(settings: Settings, session: Session, *, name: str, as_of: str | None,
                 lang: str) -> tuple[str, str]:
    """The print version of a stored report in one language (``zh`` or ``en``): the stored
    JSON rendered by the one renderer, A4 landscape print CSS; and its folder (the month).
    The title names the month and the model version (the payload's, else the one that scored
    that month). Same lookup and errors as :func:`load`."""
    if lang not in LANGUAGES:
        raise ApiError(422, "invalid_language", f"lang must be one of {', '.join(LANGUAGES)}",
                       field="query.lang")
    folder = _locate(settings, name, as_of, ".json").parent.name
    payload = load(settings, name=name, as_of=folder)
    version = session.scalars(select(Snapshot.model_version)
                              .where(Snapshot.as_of == str(payload.get("as_of") or folder))
                              ).first()
    html = stored_html(name, payload, langs={lang: translators()[lang]},
                       model_version=version or None)
    return html, folder


def printed_pdf(settings: Settings, session: Session, *, name: str, as_of: str | None,
                lang: str) -> tuple[bytes, str]:
    """The PDF of :func:`printed_html` (Chromium, A4 landscape, the title and "page n of m"
    at the foot of every page) and its file name. 503 ``pdf_unavailable``
    (one line: what is missing) when no PDF can be printed here."""
    html, folder = printed_html(settings, session, name=name, as_of=as_of, lang=lang)
    title = re.search(r"<title>(.*?)</title>", html, flags=re.S)
    footer = printing.footer(unescape(title.group(1)) if title else name, translators()[lang])
    try:
        data = printing.html_to_pdf(html, footer_html=footer)
    except printing.PdfUnavailable as exc:
        raise ApiError(503, "pdf_unavailable", str(exc)) from None
    return data, f"{name}-{folder}-{lang}.pdf"


def loaded_snapshot(session: Session, as_of: str) -> Snapshot:
    """The loaded snapshot of month ``as_of``; 404 ``snapshot_not_found`` if none."""
    _check_as_of(as_of)
    snap = session.scalars(select(Snapshot).where(Snapshot.as_of == as_of)).first()
    if snap is None:
        raise ApiError(404, "snapshot_not_found", f"no snapshot {as_of} is loaded",
                       field="query.as_of")
    return snap


def month_attributes(settings: Settings, as_of: str) -> pd.DataFrame | None:
    """Group attributes (:data:`ATTRIBUTE_GROUPS`) of the households of ``as_of`` from the
    features stage's ``attributes.parquet``; None when that month's features were not kept."""
    _check_as_of(as_of)
    path = Path(settings.features_dir) / as_of / "attributes.parquet"
    if not path.is_file():
        return None
    try:
        a = pd.read_parquet(path)
    except (OSError, ValueError):
        return None
    a.index = a.index.astype(str)
    return a[[c for c in ATTRIBUTE_GROUPS if c in a.columns]]


def decisions_frame(session: Session, *, as_of: str | None = None,
                    attributes: pd.DataFrame | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Decisions with street, band at decision, score, override, outcome (1/0/NaN) and group
    columns (from the household's indicator values in the referral's snapshot, plus any
    ``attributes`` columns joined on ``household_id``); and the group column names."""
    snap = loaded_snapshot(session, as_of) if as_of else None
    q = (select(Decision.household_id, Referral.street_code, Decision.band_at_decision,
                Decision.probability_at_decision, Decision.override, Decision.outcome,
                HouseholdScore.values)
         .join(Referral, Referral.id == Decision.referral_id)
         .outerjoin(HouseholdScore, (HouseholdScore.snapshot_id == Referral.snapshot_id)
                    & (HouseholdScore.household_id == Referral.household_id)))
    if snap is not None:
        q = q.where(Referral.snapshot_id == snap.id)
    rows = session.execute(q.order_by(Decision.id)).all()
    d = pd.DataFrame([r[:6] for r in rows], columns=["household_id", "street", "band", "score",
                                                     "override", "outcome_word"])
    d["override"] = d["override"].astype(bool)
    d["outcome"] = outcome_value(d["outcome_word"])
    values = pd.DataFrame([r[6] or {} for r in rows], index=d.index)
    d = d.join(indicator_groups(values))
    groups = list(GROUP_NAMES)
    if attributes is not None and len(attributes.columns):
        extra = [c for c in attributes.columns if c not in d.columns]
        a = attributes[extra].astype("string")
        d = d.join(a, on="household_id")
        groups += extra
    return d, groups


def overrides(session: Session, *, as_of: str | None = None,
              attributes: pd.DataFrame | None = None) -> dict[str, Any]:
    """The override report computed live from the case store: decisions on referrals of
    ``as_of`` (None: every loaded month).

    Shape (see :func:`assist.reports.cases.overrides_report`)::

        {"as_of": str | None, "decisions": int, "overrides": int, "verified": int,
         "slices": ["(all)", "street", "band", "elderly_alone", "disability",
                    "no_able_caregiver", "unemployed", ...attribute columns],
         "rows": [{"slice", "value", "decisions", "overrides", "override_rate",
                   "override_rate_low", "override_rate_high", "overridden_verified",
                   "overridden_confirmed", "confirmed_rate_overridden" (+ _low, _high),
                   "followed_verified", "followed_confirmed", "confirmed_rate_followed"
                   (+ _low, _high), "confirmed_rate_difference" (+ _low, _high)}],
         "contests": {"statuses": [...], "totals": {status: int, "contests": int},
                      "streets": [{"street": str, status: int, ..., "contests": int}]},
         "definitions": {term: text}}

    Contests are counted over every month. Rates are fractions, ``None`` where undefined;
    ``rows`` is empty when no decision is
    recorded yet. 404 ``snapshot_not_found`` for an unknown
    month.
    """
    from assist.serving.services.contests import contests_frame

    frame, groups = decisions_frame(session, as_of=as_of, attributes=attributes)
    return overrides_report(frame, as_of=as_of, groups=groups,
                            contests=contests_frame(session))


def early_warning(session: Session, *, snapshot: Snapshot) -> dict[str, Any]:
    """Early-warning counts of a loaded snapshot, per flag and per street.

    Shape (see :func:`assist.reports.cases.early_warning_report`)::

        {"as_of": str, "model_version": str | None,
         "flags": ["band_up", "score_jump", "new_hospital_stay", "job_loss", "income_drop",
                   "water_silence"],                         # assist.models.warning.FLAGS
         "totals": {flag: int, "other": int, "households": int},
         "streets": [{"street_code": str, flag: int, ..., "other": int, "households": int}],
         "scoring_counts": {flag: int, "households": int} | None,  # summary["flags"]
         "definitions": {flag: text}}

    Counts are of the snapshot's listed households (referrals) carrying a flag.
    """
    rows = session.execute(select(Referral.street_code, Referral.flags)
                           .where(Referral.snapshot_id == snapshot.id,
                                  Referral.flag_key != ";")).all()
    frame = pd.DataFrame(rows, columns=["street_code", "flags"])
    summary = snapshot.summary or {}
    return early_warning_report(frame, as_of=snapshot.as_of,
                                model_version=snapshot.model_version or None,
                                summary_flags=summary.get("flags"))
