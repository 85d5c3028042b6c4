"""``assist report uplift``: did the grants that followed the referrals lower need? (the
estimate of :mod:`assist.models.uplift` from the workspace's own records)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from assist.cli.common import load_settings, out, user_errors
from assist.cli.reports import report_app
from assist.errors import InputError

Quality = Annotated[float | None, typer.Option(
    min=0.5, max=1.0, help="How often a finding is right (default: the experiment config's "
                           "labels section).")]


def _quality(config: Path, sensitivity: float | None,
             specificity: float | None) -> tuple[float, float]:
    """The findings' sensitivity and specificity: given, or the experiment config's."""
    if sensitivity is None or specificity is None:
        from assist.experiments.config import load_config

        labels = load_config(config)[0].labels if config.is_file() else None
        sensitivity = sensitivity if sensitivity is not None else getattr(labels, "sensitivity",
                                                                           None)
        specificity = specificity if specificity is not None else getattr(labels, "specificity",
                                                                          None)
    if sensitivity is None or specificity is None:
        raise InputError("declare how often findings are right: --sensitivity and "
                         "--specificity, or the labels section of the experiment config",
                         file=str(config))
    return sensitivity, specificity


def _row(table: Table, name: str, f: dict[str, Any]) -> None:
    table.add_row(name, f"{f['households']:,}", f"{f['counterfactual']:.3f}",
                  f"{f['observed']:.3f}", f"{f['effect']:+.3f}",
                  f"{f['low']:+.3f} – {f['high']:+.3f}")


@report_app.command("uplift")
@user_errors
def uplift(
    config: Annotated[Path, typer.Option(help="Experiment config (its labels section).")] = Path(
        "experiments/default.yaml"),
    sensitivity: Quality = None,
    specificity: Quality = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the estimate here.")]
    = None,
) -> None:
    """Effect of the grants that followed visited referrals on the share still in need at
    the first routine review 2-4 months on, against the population-calibrated probability of
    need, with 95 % intervals, overall and per programme."""
    from assist.pipelines.uplift import estimate

    s = load_settings()
    se, sp = _quality(config, sensitivity, specificity)
    est, _ = estimate(workspace=s.workspace, store=s.store_dir, scores_dir=s.scores_dir,
                      sensitivity=se, specificity=sp)
    if est["effect"] is None:
        out.print(f"uplift not estimated: {est['reason']}")
    else:
        table = Table(title="效果估计 uplift: share in need without vs with the grant")
        for col in ("programme", "households", "without (model)", "with (reviews)", "effect",
                    "95% interval"):
            table.add_column(col, justify="left" if col == "programme" else "right")
        _row(table, "all", est)
        for code, f in est["by_programme"].items():
            _row(table, code, f)
        out.print(table)
        if est["not_estimated"]:
            few = ", ".join(f"{k} (n = {v})" for k, v in est["not_estimated"].items())
            out.print(f"not estimated, too few households: {few}")
    out.print(f"method: {est['method']}\ncaveat: {est['caveat']}")
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(json.dumps(est, indent=2) + "\n", encoding="utf-8")
        out.print(f"estimate: {json_file}")
