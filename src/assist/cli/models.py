"""CLI commands for the need model: ``assist train``, ``assist validate-config`` and
``assist models list | show | compare | promote | card``.

Thin wrappers: read settings, call a service function (:mod:`assist.pipelines.train`,
:mod:`assist.experiments.registry`), print what it returned. Heavy imports (MLflow,
LightGBM) happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assist.cli.common import load_settings, out, progress_bar, user_errors
from assist.experiments.tracking import MODEL_NAME

if TYPE_CHECKING:
    from assist.experiments.registry import VersionInfo

ModelName = Annotated[str, typer.Option("--model-name", help="Registered model name.")]


app = typer.Typer()


@app.command()
@user_errors
def train(
    config: Annotated[Path, typer.Option(help="Experiment config (YAML).")],
    register: Annotated[bool | None, typer.Option(
        "--register/--no-register",
        help="Register the model as a new version (default: the config's tracking "
             "section).")] = None,
) -> None:
    """Train, validate and track a need model as the experiment config says."""
    from assist.experiments.config import config_hash, load_config
    from assist.pipelines.casebook_labels import summary as casebook_summary
    from assist.pipelines.train import run_training

    cfg, base = load_config(config)
    s = load_settings()
    out.rule(f"train {cfg.name} (config {config_hash(cfg)[:12]})")
    with progress_bar() as bar:
        result = run_training(config=cfg, base_dir=base, settings=s, register=register,
                              progress=bar)
    r = result.report
    for table in result.tables():
        out.print(table)
    for key, when in (("beats_baselines", "latest month"),
                      ("beats_baselines_pooled", "test folds pooled")):
        for target, flags in r[key].items():
            said = ", ".join(f"{b} {_verdict(ok)}" for b, ok in flags.items())
            out.print(f"baselines on precision@k ({target}, {when}): {said}")
    pooled = r["pooled"]
    out.print("precision@k, test folds pooled: " + "; ".join(
        f"{target} " + ", ".join(f"{s} {_num(m['precision_at_k'])}" for s, m in block.items())
        for target, block in pooled.items()))
    out.print("folds: " + "; ".join(
        f"{f['name']} p@k {_num(f['verified']['model']['precision_at_k'])}"
        f" (train {f['n_train']:,}, calibration {f['n_calibration']:,})" for f in r["folds"]))
    out.print(f"calibration: {r['model']['calibration']}; "
              f"validation: {r['data']['validation']}")
    problems = r["disparity"]["problems"]
    out.print("recall disparity: " + ("; ".join(problems) if problems else
                                      "all judged groups within the band"))
    out.print(casebook_summary(r["data"].get("casebook_labels")))
    for note in r["notes"]:
        out.print(f"note: {note}")
    out.print(f"run {result.run_id} ({s.mlflow_uri}) in {result.seconds:.1f} s")
    if result.version:
        out.print(f"registered {cfg.tracking.registered_model} version {result.version}: "
                  f"`assist models card {result.version}`, `assist models promote "
                  f"{result.version}`")

@app.command("validate-config")
@user_errors
def validate_config(
    file: Annotated[Path, typer.Argument(help="Experiment config (YAML).")],
) -> None:
    """Check an experiment config; name the section and field at fault."""
    from assist.experiments.config import config_hash, load_config

    cfg, _ = load_config(file)
    out.print(f"{file}: valid (config_version {cfg.config_version}, data source "
              f"{cfg.data.source}, sha256 {config_hash(cfg)})")

models = typer.Typer(help="Registered need models: list, show, compare, promote, card.",
                     no_args_is_help=True)

def client() -> Any:  # noqa: ANN401 - mlflow.MlflowClient
    """An MLflow client for the settings' tracking URI."""
    from assist.experiments.tracking import client as make

    return make(load_settings().mlflow_uri)

@models.command("list")
@user_errors
def list_(name: ModelName = MODEL_NAME) -> None:
    """Registered versions with their latest-month metrics and aliases."""
    from rich.table import Table

    from assist.experiments.registry import list_versions

    rows = list_versions(client(), name)
    if not rows:
        out.print(f"no versions of {name!r} are registered yet: run `assist train`")
        return
    t = Table(title=f"{name}: registered versions")
    t.caption = "p@k: precision at capacity, test folds pooled (the gate's metric: verified)"
    for col in ("version", "created", "aliases", "p@k verified", "p@k truth", "ROC-AUC",
                "catalog", "config", "promotion"):
        t.add_column(col)
    for v in rows:
        t.add_row(v.version, f"{v.created:%Y-%m-%d %H:%M}", ", ".join(v.aliases) or "",
                  _num(v.metrics.get("pooled.verified.model.precision_at_k")),
                  _num(v.metrics.get("pooled.truth.model.precision_at_k")),
                  _num(v.metric("verified", "model", "roc_auc")),
                  v.tags.get("catalog.version", "?"), v.tags.get("config_hash", "?")[:8],
                  "override" if v.tags.get("promotion.override") else "")
    out.print(t)

@models.command("show")
@user_errors
def show(version: Annotated[str, typer.Argument(help="Version number.")],
         name: ModelName = MODEL_NAME) -> None:
    """A version's data, metrics, tags, and whether it fits the running code."""
    from assist.experiments.registry import version_info

    c = client()
    info = version_info(c, name, version)
    out.print(_describe(info))
    out.print(f"fits the running code: {_compatible(c, info)}")

@models.command("compare")
@user_errors
def compare(a: Annotated[str, typer.Argument(help="First version.")],
            b: Annotated[str, typer.Argument(help="Second version.")],
            name: ModelName = MODEL_NAME) -> None:
    """Headline metrics of two versions side by side, and the params that differ."""
    from rich.table import Table

    from assist.experiments.registry import compare as diff
    from assist.experiments.registry import version_info

    c = client()
    d = diff(version_info(c, name, a, with_report=False),
             version_info(c, name, b, with_report=False))
    t = Table(title=f"{name}: version {a} vs {b} (each on its own run's test months)")
    for col in ("metric", f"v{a}", f"v{b}", "change"):
        t.add_column(col, justify="left" if col == "metric" else "right")
    for row in d["metrics"]:
        t.add_row(row["metric"], _num(row["a"]), _num(row["b"]), _num(row["delta"], sign=True))
    out.print(t)
    if d["params"]:
        p = Table(title="params that differ")
        for col in ("param", f"v{a}", f"v{b}"):
            p.add_column(col)
        for row in d["params"]:
            p.add_row(row["param"], str(row["a"]), str(row["b"]))
        out.print(p)
    else:
        out.print("no param differs")

@models.command("promote")
@user_errors
def promote(
    version: Annotated[str, typer.Argument(help="Version to promote to production.")],
    force: Annotated[bool, typer.Option(help="Override a refusal of the gate.")] = False,
    reason: Annotated[str | None, typer.Option(
        help="Why the gate is overridden (required with --force; recorded).")] = None,
    name: ModelName = MODEL_NAME,
) -> None:
    """Move the ``production`` alias to a version if the promotion gate accepts it."""
    import getpass

    from assist.experiments.registry import promote as run

    decision = run(client(), name=name, version=version, force=force, reason=reason,
                   user=getpass.getuser())
    out.print(decision.text())
    verdict = "despite the gate (override recorded)" if not decision.accepted else ""
    out.print(f"{name} version {version} is now production {verdict}".rstrip())

@models.command("card")
@user_errors
def card(version: Annotated[str, typer.Argument(help="Version number.")],
         out_file: Annotated[Path | None, typer.Option(
             "--out", help="Write the card to this markdown file.")] = None,
         name: ModelName = MODEL_NAME) -> None:
    """Print (or write) a version's model card."""
    from assist.experiments.registry import model_card

    text = model_card(client(), name, version)
    if out_file is None:
        typer.echo(text, nl=False)
        return
    out_file.write_text(text, encoding="utf-8")
    out.print(f"model card: {out_file}")


def _verdict(ok: bool | None) -> str:
    return "undefined" if ok is None else ("beaten" if ok else "NOT beaten")


def _num(v: float | None, *, sign: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v:+.3f}" if sign else f"{v:.3f}"


def _describe(info: VersionInfo) -> str:
    r = info.report or {}
    data, model = r.get("data", {}), r.get("model", {})
    lines = [f"{info.name} version {info.version} (run {info.run_id}), created "
             f"{info.created:%Y-%m-%d %H:%M} UTC, aliases: {', '.join(info.aliases) or 'none'}",
             f"data: {data.get('source', '?')} {', '.join(data.get('snapshots', []))}; "
             f"latest test month {r.get('latest_month', '?')}; {data.get('validation', '')}",
             f"catalog {info.tags.get('catalog.name')} {info.tags.get('catalog.version')}, "
             f"{len(model.get('features', []))} features; calibration "
             f"{model.get('calibration', '?')}; config {info.tags.get('config_hash', '?')[:12]}"]
    for target in ("verified", "truth"):
        vals = [f"{m} {_num(info.metric(target, 'model', m))}" for m in (
            "precision_at_k", "recall_at_k", "roc_auc", "pr_auc", "brier", "ece")]
        if any(info.metric(target, "model", m) is not None for m in ("roc_auc", "precision_at_k")):
            pooled = info.metrics.get(f"pooled.{target}.model.precision_at_k")
            lines.append(f"{target}, latest month: " + ", ".join(vals)
                         + f"; precision_at_k over the test folds pooled {_num(pooled)}")
    for key, value in sorted(info.tags.items()):
        if key.startswith("promotion."):
            lines.append(f"{key}: {value}")
    for p in (r.get("disparity") or {}).get("problems", []):
        lines.append(f"disparity: {p}")
    return "\n".join(lines)


def _compatible(c: Any, info: VersionInfo) -> str:  # noqa: ANN401 - mlflow.MlflowClient
    """'yes', or why the version's model cannot be used with the running code."""
    from assist.features import CATALOG
    from assist.models.need import IncompatibleModelError
    from assist.pipelines.train import load_version

    if info.tags.get("catalog.name") != CATALOG.name:
        return (f"not checked (catalog {info.tags.get('catalog.name')!r} is a district's own "
                "YAML catalog; it is checked when the model is loaded with it)")
    try:
        load_version(c, name=info.name, version=info.version, catalog=CATALOG)
    except IncompatibleModelError as exc:
        return f"NO — {exc}"
    return f"yes (catalog version {CATALOG.version}, {len(CATALOG)} features)"
