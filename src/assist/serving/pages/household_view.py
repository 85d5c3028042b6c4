"""What the household page shows beyond the household's detail, in the reader's language:
deprived indicators with units and cut-offs in words, the decision history as changed fields
(before → after), and the stored decision beside the reader's own input after a conflict.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from assist.features import CATALOG
from assist.features.wording import cutoff_words, value_words
from assist.serving.pages.i18n import N_, Translator
from assist.serving.schemas import DecisionPublic, IndicatorValue
from assist.serving.schemas_history import HISTORY_FIELDS, DecisionRevisionPublic

#: the decision fields by their label on the page (the form's labels)
FIELD_LABELS = {"outcome": N_("Outcome"), "visit_date": N_("Visit date"),
                "programmes_granted": N_("Programmes granted"),
                "override_reason": N_("Override reason"), "note": N_("Note"),
                "rating": N_("Rating"), "rating_reason": N_("Reason for the rating")}
ACTIONS = {"create": N_("Decision recorded"), "update": N_("Decision changed"),
           "baseline": N_("State when the history began")}
DISTRICT_TZ = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True)
class IndicatorRow:
    """A deprived indicator as the table shows it."""

    name: str
    dimension: str
    value: str
    cutoff: str


def indicator_rows(indicators: list[IndicatorValue], t: Translator) -> list[IndicatorRow]:
    """The deprived indicators with their value and cut-off in words and units."""
    lang = "zh" if t.lang == "zh" else "en"
    rows = []
    for i in indicators:
        if not i.deprived:
            continue
        try:
            ind = CATALOG[i.id]
        except KeyError:  # a district's own catalog: its unit as declared
            ind = i
        rows.append(IndicatorRow(name=i.name_zh if lang == "zh" else i.name_en,
                                 dimension=t.dimension(i.dimension),
                                 value=value_words(ind, i.value, lang),
                                 cutoff=cutoff_words(ind, lang)))
    return rows


def value_text(field: str, value: Any, t: Translator) -> str:  # noqa: ANN401
    """A decision field's value in words ("—" when empty)."""
    if value in (None, "", []):
        return "—"
    if field in ("outcome", "rating"):  # the catalog's "status <outcome>", "rating <rating>"
        key = ("status " if field == "outcome" else "rating ") + str(value)
        return t.gettext(key)
    if field == "programmes_granted":
        return ("、" if t.lang == "zh" else ", ").join(t.programme(p) for p in value)
    return str(value)


def local_time(at: dt.datetime) -> str:
    """A stored time (UTC) in the district's time, to the minute."""
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return at.astimezone(DISTRICT_TZ).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class HistoryRow:
    """One revision as the page lists it."""

    revision: int
    action: str
    who: str
    when: str
    #: (field label, before, after), in words
    changes: list[tuple[str, str, str]]


def history_rows(revisions: list[DecisionRevisionPublic], t: Translator) -> list[HistoryRow]:
    """The decision history, newest first, each change in words."""
    return [HistoryRow(revision=r.revision, action=t.gettext(ACTIONS[r.action]),
                       who=r.changed_by or "—", when=local_time(r.changed_at),
                       changes=[(t.gettext(FIELD_LABELS[c.field]),
                                 value_text(c.field, c.before, t),
                                 value_text(c.field, c.after, t)) for c in r.changes])
            for r in revisions]


def conflict_rows(stored: DecisionPublic, form: dict[str, list[str]],
                  t: Translator) -> list[tuple[str, str, str, bool]]:
    """The stored decision beside the reader's unsaved input, field by field:
    (label, stored, yours, differs)."""
    rows = []
    for f in HISTORY_FIELDS:
        mine: Any = ([p for p in form.get(f, []) if p] if f == "programmes_granted"
                     else (form.get(f) or [None])[0])
        theirs: Any = getattr(stored, f)
        theirs = theirs.isoformat() if isinstance(theirs, dt.date) else theirs
        a, b = value_text(f, theirs, t), value_text(f, mine, t)
        if f == "programmes_granted":
            differs = sorted(theirs or []) != sorted(mine or [])
        else:
            differs = a != b
        rows.append((t.gettext(FIELD_LABELS[f]), a, b, differs))
    return rows
