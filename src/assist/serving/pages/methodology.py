"""The public methodology page (``/methodology``, no sign-in).

What data the service uses (per department table), the indicators with their cutoffs and
weights, how the need score and the ranking work, what a visit decides, how a household asks
for an explanation or contests, the production model's validation figures and the known
limitations. Tables, indicators and weights are generated from the catalog
(:mod:`assist.features`), bands and capacities read from the scoring config, figures from the
registry view; the page reads no household and is not audited as a household read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from assist.errors import ConfigError
from assist.features import CATALOG
from assist.features.catalog import Catalog, Indicator
from assist.features.codes import DEPARTMENTS
from assist.serving.auth import Principal
from assist.serving.deps import SessionDep, SettingsDep
from assist.serving.pages.contests import CHANNELS, GROUNDS
from assist.serving.pages.i18n import N_, Translator
from assist.serving.pages.versions import METRICS, MODEL_NAME, cached_registry
from assist.serving.pages.web import PageError, SignIn, page_principal, render, translator
from assist.yamlfile import read_yaml

router = APIRouter(include_in_schema=False)
#: the scoring config the monthly run reads (relative to the working directory, as ``assist score``)
SCORING_CONFIG = Path("experiments") / "scoring.yaml"
#: catalog units in words (a unit not listed is shown as written in the catalog)
UNITS = {"× line": N_("× the minimum-living line"), "months": N_("months"),
         "share": N_("share (0–1)"), "× income": N_("× income"), "days": N_("days"),
         "yes/no": N_("(yes = 1, no = 0)"), "score 0-3": N_("score 0–3"),
         "persons": N_("persons"), "stays": N_("stays"), "children": N_("children"),
         "ratio": N_("ratio"), "count": N_("times")}
#: what a table gives besides the indicators that read it
TABLE_ROLES = {
    "households": N_("The list of households with their street and community: who is looked at."),
    "assistance": N_("Programmes a household already receives: matching and follow-up reviews."),
    "verifications": N_("Outcomes of past home visits: what the model learns from."),
}
#: the model card's limitations (:data:`assist.experiments.card.LIMITATIONS`, same words; a
#: test keeps them equal) and what the public should know besides
LIMITATIONS = (
    N_("Selective labels: metrics on verified outcomes can overstate how well the model finds "
       "households that never applied (compare with the hidden-truth metrics on simulated data)."),
    N_("Feedback loop: households the model ranks high are visited more, so future labels follow "
       "the model's own choices; keep routine reviews and community referrals as an independent "
       "source of labels."),
    N_("Small groups: recall disparity is judged only for groups with enough verified positives; "
       "others are listed as not judged."),
    N_("Data the platform cannot see (informal income, family support, recent events not yet "
       "recorded) is invisible to the model; caseworkers record it."),
    N_("Indicator values are as of the end of each month: a household's situation may have "
       "changed before the visit."),
    N_("Simulated data: the demonstration district and its figures are simulated; figures "
       "against the hidden truth exist only there."),
    N_("Calibration: probabilities are calibrated to the households that were visited, not to "
       "all households of the district."),
)


def rule(ind: Indicator, t: Translator) -> str:
    """When a household counts as deprived on ``ind``, in words (strictly beyond the cutoff)."""
    unit = t.gettext(UNITS[ind.unit]) if ind.unit in UNITS else ind.unit
    words = N_("above {cutoff} {unit}") if ind.direction == 1 else N_("below {cutoff} {unit}")
    return t.gettext(words, cutoff=f"{ind.cutoff:g}", unit=unit)


def dimensions(t: Translator, catalog: Catalog = CATALOG) -> list[dict[str, Any]]:
    """The catalog by dimension: names, the dimension's weight, each indicator's rule and weight."""
    out = []
    for dim_id, indicators in catalog.by_dimension().items():
        rows = [{"id": i.id, "name": i.name_zh if t.lang == "zh" else i.name_en,
                 "other": i.name_en if t.lang == "zh" else i.name_zh, "rule": rule(i, t),
                 "weight": t.rate(i.weight)} for i in indicators]
        out.append({"name": catalog.dimension(dim_id).label.text(t.lang), "rows": rows,
                    "weight": t.rate(sum(i.weight for i in indicators))})
    return out


def sources(t: Translator, catalog: Catalog = CATALOG) -> list[dict[str, Any]]:
    """Each department table: its department, the indicators it feeds, and its other role."""
    out = []
    for table, department in DEPARTMENTS.items():
        fed = [i.name_zh if t.lang == "zh" else i.name_en for i in catalog if table in i.sources]
        role = TABLE_ROLES.get(table)
        out.append({"table": table, "department": department.text(t.lang), "indicators": fed,
                    "role": t.gettext(role) if role else None})
    return out


def scoring_settings(path: Path = SCORING_CONFIG) -> dict[str, Any] | None:
    """Band cut points, the deprivation cutoff and street capacities of the scoring config
    (None when it cannot be read: the page then explains without numbers)."""
    try:
        config = read_yaml(path, what="scoring config") or {}
        streets = ((config.get("allocation") or {}).get("streets") or {}).get("default") or {}
        return {"medium": float(config["bands"]["medium"]), "high": float(config["bands"]["high"]),
                "k": config.get("deprivation_k"), "visits": streets.get("visits"),
                "floor": streets.get("floor")}
    except (ConfigError, KeyError, TypeError, ValueError, AttributeError):
        return None


def validation(request: Request, settings: Any, t: Translator) -> dict[str, Any]:
    """The production version's figures, or why there are none (``state``)."""
    try:
        reg = cached_registry(request, settings)
    except PageError:
        return {"state": "unavailable"}
    prod = reg.get(reg.production) if reg is not None and reg.production else None
    if prod is None:
        return {"state": "none"}
    rows = [{"label": label, "value": t.rate(v) if share else t.decimal(v, 3)}
            for key, label, _better, share in METRICS
            if (v := prod.metrics.get(key)) is not None]
    month = (prod.report or {}).get("latest_month")
    return {"state": "model", "name": MODEL_NAME, "version": prod.version,
            "created": prod.created.date().isoformat(), "month": month, "rows": rows}


def _caller(request: Request, session: SessionDep) -> Principal | None:
    try:
        return page_principal(request, session)
    except SignIn:
        return None


@router.get("/methodology", response_class=HTMLResponse)
def methodology(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """How the service works, for everyone (no sign-in; no household data)."""
    t = translator(request)
    return render(request, "methodology.html", who=_caller(request, session),
                  catalog=CATALOG, dimensions=dimensions(t), sources=sources(t),
                  scoring=scoring_settings(), figures=validation(request, settings, t),
                  grounds=list(GROUNDS.values()), channels=list(CHANNELS.values()),
                  limitations=LIMITATIONS)
