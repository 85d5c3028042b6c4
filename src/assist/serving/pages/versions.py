"""Data-scientist pages: the registered versions of the need model and a comparison of two.

Versions, metrics, aliases and the promotion gate come from
:mod:`assist.experiments.view` over the settings' MLflow store. Reading MLflow takes tens
of milliseconds per version, so the whole view is built once and kept in the app's page cache
for a minute.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse

from assist.experiments import view as registry_view
from assist.experiments.view import MODEL_NAME, Registry
from assist.reports import charts
from assist.serving.deps import SettingsDep
from assist.serving.pages.cache import page_cache
from assist.serving.pages.i18n import N_, Translator
from assist.serving.pages.web import MODELLERS, PageError, PagePrincipal, need_role, render, translator
from assist.settings import Settings

router = APIRouter(include_in_schema=False)
POOLED = "pooled.verified.{scorer}.precision_at_k"
#: metrics compared side by side: (run metric, label, greater is better (None: a baseline's,
#: not the version's own, so no verdict), shown as a share)
METRICS: tuple[tuple[str, str, bool | None, bool], ...] = (
    ("pooled.verified.model.precision_at_k", N_("Precision@k, verified (test months pooled)"), True, True),
    ("pooled.verified.logistic.precision_at_k", N_("Logistic baseline: precision@k, verified"), None, True),
    ("pooled.verified.deprivation.precision_at_k", N_("Deprivation index baseline: precision@k, verified"), None, True),
    ("pooled.truth.model.precision_at_k", N_("Precision@k, simulated truth (test months pooled)"), True, True),
    ("latest.verified.model.recall_at_k", N_("Recall@k, verified (latest month)"), True, True),
    ("latest.verified.model.roc_auc", N_("ROC-AUC, verified (latest month)"), True, False),
    ("latest.verified.model.pr_auc", N_("PR-AUC, verified (latest month)"), True, False),
    ("latest.verified.model.brier", N_("Brier score (latest month)"), False, False),
    ("latest.verified.model.ece", N_("Calibration error (latest month)"), False, False),
)
GROUP_METRIC = re.compile(r"^group\.verified\.([^.]+)\.(.+)\.recall_at_overall_k$")
_VERSION = re.compile(r"^[0-9]{1,9}$")


def read_registry(settings: Settings, name: str = MODEL_NAME) -> Registry | None:
    """The registry view of ``name`` (None when no MLflow store exists yet)."""
    try:
        return registry_view.read_registry(settings.mlflow_uri, name)
    except registry_view.RegistryUnavailable as exc:
        raise PageError(503, N_("The model registry cannot be read right now.")) from exc


def cached_registry(request: Request, settings: Settings) -> Registry | None:
    """:func:`read_registry`, kept in the page cache (stamped by the tracking URI)."""
    uri = settings.mlflow_uri
    return page_cache(request).get(("registry", uri, MODEL_NAME),
                                   lambda: read_registry(settings),
                                   stamp=registry_view.store_missing(uri))


def group_recall(metrics: dict[str, float]) -> dict[tuple[str, str], float]:
    """Per (attribute, group): recall within the district list, from the run's group metrics."""
    out = {}
    for key, value in metrics.items():
        m = GROUP_METRIC.match(key)
        if m:
            out[(m.group(1), m.group(2))] = value
    return out


def _delta(a: float | None, b: float | None, better: bool | None) -> tuple[float | None, str]:
    """b - a, and whether that is an improvement (``better``: greater is better; None: no
    verdict)."""
    if a is None or b is None:
        return None, "none"
    d = b - a
    if better is None:
        return d, "none"
    if abs(d) < 5e-4:
        return d, "same"
    return d, "better" if (d > 0) == better else "worse"


def compare_view(a: Any, b: Any, t: Translator) -> dict[str, Any]:
    """Rows of the comparison page: headline metrics, per-group recall and differing params."""
    rows = []
    for key, label, better, share in METRICS:
        va, vb = a.metrics.get(key), b.metrics.get(key)
        if va is None and vb is None:
            continue
        d, verdict = _delta(va, vb, better)
        fmt = (lambda v: t.rate(v)) if share else (lambda v: t.decimal(v, 3))
        rows.append({"label": label, "a": fmt(va), "b": fmt(vb), "verdict": verdict,
                     "delta": t.decimal(None if d is None else d * (100 if share else 1),
                                        1 if share else 3, sign=True)
                     + (t.gettext(" pp") if share and d is not None else "")})
    ga, gb = group_recall(a.metrics), group_recall(b.metrics)
    groups = []
    for attr, value in sorted(set(ga) | set(gb)):
        va, vb = ga.get((attr, value)), gb.get((attr, value))
        d, verdict = _delta(va, vb, True)
        groups.append({"attribute": attr, "group": value, "a": va, "b": vb, "verdict": verdict,
                       "delta": t.decimal(None if d is None else d * 100, 1, sign=True)
                       + (t.gettext(" pp") if d is not None else "")})
    charts_by_attr = []
    for attr in dict.fromkeys(g["attribute"] for g in groups):
        part = [g for g in groups if g["attribute"] == attr]
        charts_by_attr.append(charts.grouped(
            [(t.group(g["group"]), (g["a"] or 0.0, g["b"] or 0.0)) for g in part],
            series=[t.gettext("Version {v}", v=a.version), t.gettext("Version {v}", v=b.version)],
            title=t.gettext("Recall by {attribute}", attribute=t.attribute(attr)),
            fmt=t.rate, maximum=1.0))
    return {"rows": rows, "groups": groups, "charts": charts_by_attr,
            "params": registry_view.compare(a, b)["params"]}


def _version(value: str | None, reg: Registry, default: str | None) -> str | None:
    if value is None:
        return default
    if not _VERSION.match(value) or reg.get(value) is None:
        raise PageError(404, N_("This model version is not registered."))
    return value


#: a version number from the query (checked by :func:`_version`, so a bad one is a 404 page)
Version = Annotated[str | None, Query()]


@router.get("/models", response_class=HTMLResponse)
def models(request: Request, settings: SettingsDep, who: PagePrincipal) -> HTMLResponse:
    """Registered versions of the need model: metrics against baselines, gate, production."""
    need_role(who, MODELLERS)
    reg = cached_registry(request, settings)
    return render(request, "models.html", who=who, reg=reg, pooled=POOLED, model_name=MODEL_NAME,
                  newest=list(reversed(reg.versions)) if reg else [])


@router.get("/models/compare", response_class=HTMLResponse)
def compare_versions(request: Request, settings: SettingsDep, who: PagePrincipal,
                     a: Version = None, b: Version = None) -> HTMLResponse:
    """Two versions side by side: metric differences, per-group recall, differing params."""
    need_role(who, MODELLERS)
    reg = cached_registry(request, settings)
    if reg is None or len(reg.versions) < 2:
        return render(request, "compare.html", who=who, reg=reg, view=None, a=None, b=None)
    numbers = [v.version for v in reg.versions]
    first = reg.production if reg.production and reg.production != numbers[-1] else numbers[-2]
    va, vb = _version(a, reg, first), _version(b, reg, numbers[-1])
    view = page_cache(request).get(("compare", settings.mlflow_uri, va, vb, translator(request).lang),
                                   lambda: compare_view(reg.get(va), reg.get(vb),
                                                        translator(request)),
                                   stamp=reg.read_at)
    return render(request, "compare.html", who=who, reg=reg, view=view, a=reg.get(va),
                  b=reg.get(vb))
