"""Model cards: a markdown fact sheet per registered version, generated from the run's report.

Sections: intended use, data (months, label counts, what selective labels mean), validation,
metrics overall and per fold, baselines, per-group recall disparity, the gap between verified
labels and the hidden truth (simulated data), explanations, limitations, and the changes
since the previous version (metric deltas and parameters that differ).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assist.experiments.tracking import flatten
from assist.experiments.versions import HEADLINE, VersionInfo

METRIC_COLUMNS = (("precision_at_k", "precision@k"), ("recall_at_k", "recall@k"),
                  ("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("brier", "Brier"),
                  ("ece", "ECE"))
SCORER_NAMES = {"model": "need model (LightGBM)", "logistic": "logistic regression",
                "deprivation": "deprivation index (Alkire–Foster c_i)",
                "production": "current production model"}

INTENDED_USE = """\
This model ranks the households of a district by their probability of being in hardship that a
caseworker's home visit would confirm, so that civil-affairs caseworkers can **offer help** to
households that have not asked for it. Each referral is verified by a caseworker, who decides;
the score is never a decision.

It must **not** be used to deny, reduce or stop assistance, to detect fraud, to rank people
for enforcement or any other punitive purpose, or outside the district and period it was
trained on."""

SELECTIVE_LABELS = """\
Labels exist only for households a caseworker visited: those that applied, were referred by
their community or after a hotline appeal, or were reviewed because they already receive
assistance. Households that never came to the service's attention are unlabelled, and the
labelled ones are not a random sample (households that seldom apply — non-local residents,
elderly people living alone — are under-represented). Verified precision and recall describe
the visited population; calibrated probabilities are calibrated to it, not to all households —
unless the run had case-store labels of known propensity: a declared share of each month's
visits explores a random, band-stratified sample of the households the ranking did not choose,
every visit's propensity is recorded, and the calibration map is then refitted on the labels
of visits chosen by score (rank and exploration: chosen on the features alone, so P(need |
score) holds beyond the visited households; exploration reaches the low scores), so the
probabilities describe the whole district
("registered model" below says whether this run did)."""

LIMITATIONS = (
    "Selective labels: metrics on verified outcomes can overstate how well the model finds "
    "households that never applied (compare with the hidden-truth metrics on simulated data).",
    "Feedback loop: households the model ranks high are visited more, so future labels follow "
    "the model's own choices; keep routine reviews and community referrals as an independent "
    "source of labels.",
    "Small groups: recall disparity is judged only for groups with enough verified positives; "
    "others are listed as not judged.",
    "Data the platform cannot see (informal income, family support, recent events not yet "
    "recorded) is invisible to the model; caseworkers record it.",
    "Indicator values are as of the end of each month: a household's situation may have "
    "changed before the visit.",
)


def render_card(report: Mapping[str, Any], *, name: str, version: str,
                params: Mapping[str, str] | None = None,
                previous: VersionInfo | None = None) -> str:
    """The model card of one registered version, as markdown."""
    cfg, data, model = report.get("config", {}), report.get("data", {}), report.get("model", {})
    cat = model.get("catalog", {})
    out = [f"# Model card — {name} version {version}", "",
           f"- trained: {report.get('trained_at', '?')}; run `{report.get('run_id', '?')}`",
           f"- config `{cfg.get('name', '?')}` (config_version {cfg.get('version', '?')}, "
           f"sha256 `{str(cfg.get('hash', '?'))[:12]}`)",
           f"- catalog `{cat.get('name', '?')}` version {cat.get('version', '?')}, "
           f"{len(model.get('features', []))} indicators; monotone constraints from the "
           "indicators' directions",
           f"- registered model: {model.get('final_note', '')}",
           "", "## Intended use", "", INTENDED_USE, "", "## Data", ""]
    out += _data(data, report.get("capacity", {}))
    out += ["", "## Metrics on the latest test month", ""]
    out += _latest(report)
    out += ["", "## Per-group recall disparity", ""]
    out += _disparity(report.get("disparity"), "verified labels")
    if report.get("disparity_truth"):
        out += ["", "Against the hidden true need (simulated data):", ""]
        out += _disparity(report.get("disparity_truth"), "hidden truth")
    out += ["", "Full per-group metrics (every group, scorer and target): artifact "
            "`per_group_metrics.csv`. Fairness audit of the held-out months (every rate, "
            "interval and disparity per group and pair of groups): artifact "
            "`reports/fairness.html` (`.json`); its input, the held-out predictions, is "
            "`heldout_predictions.parquet` (`assist audit` reads it).", "", "## Explanations", ""]
    out += _explanations(report.get("explanations") or {})
    out += ["", "## Limitations", "", *[f"- {x}" for x in LIMITATIONS]]
    out += [*[f"- {n}" for n in report.get("notes", [])]]
    out += ["", "## Changes since the previous version", ""]
    out += _changes(report, params or {}, previous)
    return "\n".join(out) + "\n"


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in r) + " |" for r in rows]
    return lines


def _data(data: Mapping[str, Any], cap: Mapping[str, Any]) -> list[str]:
    months = data.get("feature_months", [])
    fingerprint = str(data.get("fingerprint"))[:12]
    out = [f"- source: {data.get('source', '?')} (fingerprint `{fingerprint}`)",
           f"- snapshots: {', '.join(data.get('snapshots', [])) or '—'}",
           f"- feature months: {', '.join(months) or '—'}; each labelled by the outcome of the "
           "household's informative home visit in the following month",
           f"- validation: {data.get('validation', '?')}",
           f"- capacity k: {_fmt(cap.get('k'))} households a month "
           f"({_fmt(100 * cap.get('share', 0), 2)} % of {_fmt(cap.get('households'))})", ""]
    labels = data.get("labels", {})
    if labels:
        out += _table(["feature month", "households", "labelled", "confirmed"],
                      [(m, v["households"] if v["households"] >= 0 else None, v["labelled"],
                        v["positives"]) for m, v in labels.items()])
        out.append("")
    out += ["**Selective labels.** " + SELECTIVE_LABELS]
    if data.get("truth"):
        out += ["", f"Hidden true need of the simulated district joined for evaluation only "
                    f"({data['truth']})."]
    return out


def _latest(report: Mapping[str, Any]) -> list[str]:
    latest = report.get("latest", {})
    out = [f"Test month **{report.get('latest_month', '?')}** (trained on earlier months). "
           "Verified: precision@k is the share confirmed among the top-k households that were "
           "verified the next month, recall@k the share of confirmed households in the top k.", ""]
    for target, title in (("verified", "verified labels"),
                          ("truth", "hidden true need, all households")):
        block = latest.get(target)
        if not block:
            continue
        champion = (report.get("champion") or {}).get(target)
        rows = [(SCORER_NAMES.get(s, s), *[m.get(k) for k, _ in METRIC_COLUMNS], m.get("k"),
                 m.get("n")) for s, m in block.items()]
        if champion:
            rows.append((f"{SCORER_NAMES['production']} (v{report['champion']['version']})",
                         *[champion.get(k) for k, _ in METRIC_COLUMNS], champion.get("k"),
                         champion.get("n")))
        out += [f"Against {title}:", ""]
        out += _table(["scorer", *[t for _, t in METRIC_COLUMNS], "k", "n"], rows)
        out.append("")
    for key, when in (("beats_baselines", "latest month"), ("beats_baselines_pooled",
                                                           "test folds pooled")):
        for target, flags in (report.get(key) or {}).items():
            said = ", ".join(f"{SCORER_NAMES.get(b, b)}: {_beaten(ok)}" for b, ok in flags.items())
            out.append(f"- baselines on precision@k ({target}, {when}): {said}")
    pooled = report.get("pooled") or {}
    if pooled:
        out += ["", "Test folds pooled (hits and top-k selections summed over the test months; "
                "the promotion gate compares verified precision@k pooled):", ""]
        out += _table(["target", "scorer", "precision@k", "recall@k", "k (summed)", "folds"],
                      [(t, SCORER_NAMES.get(s, s), m.get("precision_at_k"), m.get("recall_at_k"),
                        m.get("k"), m.get("folds")) for t, block in pooled.items()
                       for s, m in block.items()])
    gap = _gap(latest)
    if gap:
        out += ["", "**Selective-label gap.** " + gap]
    folds = report.get("folds", [])
    if folds:
        out += ["", "Per fold (rolling forward):", ""]
        out += _table(["test", "train rows", "calibration rows", "model p@k", "logistic p@k",
                       "deprivation p@k", "model ROC-AUC", "model p@k (truth)"],
                      [(f["name"], f.get("n_train"), f.get("n_calibration"),
                        *[(f.get("verified") or {}).get(s, {}).get("precision_at_k")
                          for s in ("model", "logistic", "deprivation")],
                        (f.get("verified") or {}).get("model", {}).get("roc_auc"),
                        ((f.get("truth") or {}).get("model") or {}).get("precision_at_k"))
                       for f in folds])
    return out


def _beaten(ok: bool | None) -> str:
    return "undefined" if ok is None else ("beaten" if ok else "NOT beaten")


def _gap(latest: Mapping[str, Any]) -> str:
    v = (latest.get("verified") or {}).get("model")
    t = (latest.get("truth") or {}).get("model")
    if not v or not t:
        return ""
    return (f"Verified precision@k {_fmt(v.get('precision_at_k'))} vs true precision@k "
            f"{_fmt(t.get('precision_at_k'))} over all households; verified base rate "
            f"{_fmt(v.get('base_rate'))} among {_fmt(v.get('n'))} visited households vs true "
            f"base rate {_fmt(t.get('base_rate'))} among all {_fmt(t.get('n'))}. Brier/ECE "
            f"against truth ({_fmt(t.get('brier'))} / {_fmt(t.get('ece'))}) show how far "
            "probabilities calibrated on visited households are from the whole population's.")


def _disparity(d: Mapping[str, Any] | None, what: str) -> list[str]:
    if not d:
        return ["Not computed."]
    out = [f"Recall at capacity of each group relative to the largest group ({what}, test "
           f"folds pooled); allowed band {_fmt(d.get('min_ratio'), 2)}–"
           f"{_fmt(d.get('max_ratio'), 2)} — a group is flagged only when the whole 95 % "
           f"(Katz log) interval of its ratio lies outside it; groups with fewer than "
           f"{d.get('min_positives')} positives are not judged.", ""]
    out += _table(["attribute", "group", "households × months", "positives", "recall", "ratio",
                   "judged"],
                  [(r["attribute"], r["value"], r["households"], r["positives"], r["recall"],
                    r["ratio"], r["judged"]) for r in d.get("rows", [])])
    problems = d.get("problems", [])
    out += ["", ("Outside the band: " + "; ".join(problems)) if problems else
            "All judged groups are within the band."]
    return out


def _explanations(e: Mapping[str, Any]) -> list[str]:
    rows = e.get("indicators", [])[:8]
    if not rows:
        return ["Not computed."]
    out = [f"Exact TreeSHAP (LightGBM `pred_contrib`) on {_fmt(e.get('n'))} households of the "
           "latest test month; most influential indicators:", ""]
    out += _table(["indicator", "指标", "mean |contribution|", "top factor share"],
                  [(r["name_en"], r["name_zh"], r["mean_abs_contribution"], r["top_factor_share"])
                   for r in rows])
    return out


def _changes(report: Mapping[str, Any], params: Mapping[str, str],
             previous: VersionInfo | None) -> list[str]:
    if previous is None:
        return ["First registered version."]
    current = flatten("latest", report.get("latest", {})) | flatten("pooled",
                                                                     report.get("pooled", {}))
    rows = []
    for key, label in HEADLINE:
        now, before = current.get(key), previous.metrics.get(key)
        if now is None and before is None:
            continue
        rows.append((label, before, now, None if now is None or before is None else now - before))
    out = [f"Compared with version {previous.version} (each on its own latest test month):", ""]
    out += _table(["metric", f"v{previous.version}", "this version", "change"], rows)
    keys = sorted(set(params) | set(previous.params))
    diff = [(k, previous.params.get(k), params.get(k)) for k in keys
            if params.get(k) != previous.params.get(k)]
    out += ["", "Parameters that changed:" if diff else "No parameter changed.", ""]
    if diff:
        out += _table(["parameter", f"v{previous.version}", "this version"], diff)
    return out
