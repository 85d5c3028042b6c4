"""``assist simulate-loop``: a simulated year of the closed loop under several policies
(:mod:`assist.cli.loop_run`), with the figures of :mod:`assist.reports.loop` printed as a
table, written as JSON and drawn as a PNG chart."""

from __future__ import annotations

import json
import resource
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from assist.cli.common import load_settings, out, progress_bar, user_errors
from assist.errors import InputError

app = typer.Typer()


def _policies(text: str) -> list[str]:
    from assist.cli.loop_run import POLICIES

    names = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in names if p not in POLICIES]
    if unknown or not names:
        raise InputError(f"unknown policy {unknown[0] if unknown else text!r}: choose from "
                         f"{', '.join(POLICIES)}", column="--policies")
    return list(dict.fromkeys(names))


def _fmt(v: Any) -> str:  # noqa: ANN401
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def show(figures: dict[str, dict[str, Any]]) -> None:
    """Per month and policy, then the year's totals."""
    from assist.reports.loop import MONTH_FIELDS

    t = Table(title="simulated loop: per month and policy (against the hidden truth)")
    t.add_column("policy")
    for col in MONTH_FIELDS:
        t.add_column(col.replace("_", " "), justify="right")
    for name, f in figures.items():
        for row in f["months"]:
            t.add_row(name, *(_fmt(row[c]) for c in MONTH_FIELDS))
    out.print(t)
    total = Table(title="the whole run")
    for col in ("policy", "reached cumulative", "uplift estimate (95%, n)",
                "uplift true (same households)", "uplift true (3 months)", "seconds", "peak MB"):
        total.add_column(col, justify="left" if col == "policy" else "right")
    for name, f in figures.items():
        total.add_row(name, _fmt(f["reached_cumulative"]), _estimate(f.get("uplift")),
                      _fmt((f.get("uplift") or {}).get("true_matched")),
                      _fmt(f["uplift_true"]), f"{f['seconds']:.0f}", f"{f['peak_mb']:,.0f}")
    out.print(total)


def _estimate(u: dict[str, Any] | None) -> str:
    """The uplift estimate with its interval and households, or why there is none."""
    if u is None:
        return "–"
    if u.get("effect") is None:
        return f"– (n = {u['households']})"
    return f"{u['effect']:.3f} ({u['low']:.3f}–{u['high']:.3f}, n = {u['households']:,})"


@app.command("simulate-loop")
@user_errors
def simulate_loop(
    households: Annotated[int, typer.Option(help="Households in the simulated district.")] = 3000,
    months: Annotated[int, typer.Option(help="Months of the loop (after the history).")] = 6,
    seed: Annotated[int, typer.Option(help="Random seed (same district for every policy).")] = 7,
    policies: Annotated[str, typer.Option(
        help="Comma-separated: model, model-parity (recall parity in allocation), "
             "deprivation, random, status-quo.")] = "model,deprivation,status-quo",
    retrain_every: Annotated[int, typer.Option(
        help="The model policy retrains every K months from its labels (0: never).")] = 3,
    history: Annotated[int, typer.Option(
        help="Months lived before the loop starts (the first model's training data).")] = 12,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder of the policies' workspaces "
                                          "(default: <workspace>/loop).")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the figures here.")] = None,
    chart_file: Annotated[Path | None, typer.Option(
        "--chart", help="PNG of need reached by month (default: <out>/reached.png).")] = None,
) -> None:
    """Run the same simulated district month after month under each policy, the simulator
    playing the caseworkers, and compare hidden need found, repeat visits, calibration and
    recall parity against the truth."""
    from assist.cli.loop_run import months_of, prepare_base, pseudonyms, run_policy
    from assist.reports.loop import chart, policy_figures

    names = _policies(policies)
    if households < 100 or months < 1 or history < 7 or retrain_every < 0:
        raise InputError("need --households >= 100, --months >= 1, --history >= 7 (the first "
                         "model's folds) and --retrain-every >= 0")
    s = load_settings()
    out_dir = out_dir or s.workspace / "loop"
    base = s.model_copy(update={"workspace": out_dir / "start", "database_url": None,
                                "mlflow_tracking_uri": None})
    if base.workspace.exists():
        raise InputError("the loop's folder is not empty: choose another --out",
                         file=str(out_dir))
    timeline = months_of(history, months)
    truth = prepare_base(base, households=households, seed=seed, first=timeline[0],
                         history=history, say=out.print)
    pseudo = pseudonyms(base)
    figures: dict[str, dict[str, Any]] = {}
    with progress_bar() as bar:
        for name in names:
            task = bar.add_task(f"policy {name}", total=months)
            run = run_policy(base, name, out=out_dir, loop_months=timeline[history:],
                             retrain_every=retrain_every, pseudo=pseudo, truth=truth,
                             say=out.print, advance=lambda t=task: bar.advance(t))
            f = policy_figures(run.months, status_quo=name == "status-quo",
                               ece=name.startswith("model"), truth=run.truth,
                               uplift=run.uplift)
            f["seconds"] = run.seconds
            f["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            figures[name] = f
    show(figures)
    png = chart(figures, chart_file or out_dir / "reached.png")
    out.print(f"chart: {png}")
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(json.dumps({"policies": figures}, indent=2, ensure_ascii=False)
                             + "\n", encoding="utf-8")
        out.print(f"figures: {json_file}")
