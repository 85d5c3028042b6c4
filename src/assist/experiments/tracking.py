"""MLflow tracking: runs, metrics, artifacts and model versions, plus the run's plots.

Everything goes through an explicit :class:`mlflow.MlflowClient` built for a tracking URI
(no process-wide ``mlflow.set_tracking_uri``). With a local SQLite store the experiment's
artifacts live in ``mlartifacts/`` beside the database file (not ``./mlruns`` of whatever
folder the command ran in); a tracking server decides for itself. MLflow's usage telemetry
and artifact progress bars are off unless the environment turns them on.

A workspace is portable: MLflow's SQLite store records absolute artifact locations, so when
the store has been copied or moved (its experiments' artifact roots name another folder's
``mlartifacts/``), :func:`client` first re-bases every stored location onto the
``mlartifacts/`` beside this database (:func:`relocate_artifacts`): runs, drift logs and model
versions of a copied workspace are read from and written to the copy, never the original.

Plots are drawn with matplotlib's object API on an Agg canvas (no pyplot, no global backend).
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import numpy as np

if TYPE_CHECKING:
    from mlflow import MlflowClient

#: the registered need model, and the default experiment its runs are logged to
MODEL_NAME = "assist-need-model"
ARTIFACTS_DIR = "mlartifacts"
MODEL_ARTIFACT = "model"
REPORT_ARTIFACT = "report.json"
CARD_ARTIFACT = "model_card.md"
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /:]")
_BATCH = 100


def client(uri: str) -> MlflowClient:
    """An MLflow client for tracking and registry at ``uri`` (telemetry off by default; a
    copied local store re-based onto its own folder first, see :func:`relocate_artifacts`)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    relocate_artifacts(uri)
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:`` URI (``sqlite:////abs`` or ``sqlite:///relative``)."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite" or not parsed.path or parsed.path in ("/", "/:memory:"):
        return None
    return Path(unquote(parsed.path[1:]))


def local_artifact_root(uri: str) -> str | None:
    """``file:`` URI of ``mlartifacts/`` beside a local SQLite store; None for other stores."""
    db = _sqlite_file(uri)
    return None if db is None else (db.parent / ARTIFACTS_DIR).resolve().as_uri()


#: (table, column) of every artifact location MLflow's SQL store records
_LOCATIONS = (("experiments", "artifact_location"), ("runs", "artifact_uri"),
              ("model_versions", "source"), ("model_versions", "storage_location"),
              ("logged_models", "artifact_location"))


def relocate_artifacts(uri: str) -> dict[str, str]:
    """Re-base the artifact locations of a copied (or moved) local SQLite store onto the
    ``mlartifacts/`` beside it; returns {old root: new root} (empty when nothing moved).

    An experiment created here has the location ``<root>/<name>`` with ``<root>`` an
    ``mlartifacts`` folder; a root other than this store's own is a copy's origin, and every
    location under it (experiments, runs, model versions, logged models) is rewritten in one
    transaction. Other locations (set explicitly, or a server's) are left as they are."""
    db = _sqlite_file(uri)
    root = local_artifact_root(uri)
    if db is None or root is None or not db.is_file():
        return {}
    with closing(sqlite3.connect(db, timeout=30)) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "experiments" not in tables:
            return {}
        olds = {loc[:-len(name) - 1]
                for name, loc in con.execute("SELECT name, artifact_location FROM experiments")
                if loc and loc.endswith(f"/{name}")
                and loc[:-len(name) - 1].endswith(f"/{ARTIFACTS_DIR}")
                and loc[:-len(name) - 1] != root}
        if not olds:
            return {}
        with con:  # one transaction
            for old in sorted(olds):
                for table, col in (tc for tc in _LOCATIONS if tc[0] in tables):
                    con.execute(f"UPDATE {table} SET {col} = ? || substr({col}, ?) "  # noqa: S608
                                f"WHERE {col} = ? OR substr({col}, 1, ?) = ?",
                                (root, len(old) + 1, old, len(old) + 1, f"{old}/"))
    return dict.fromkeys(sorted(olds), root)


def experiment_id(c: MlflowClient, name: str, uri: str) -> str:
    """Id of experiment ``name``, created (with a local artifact root when local) if new."""
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    root = local_artifact_root(uri)
    return c.create_experiment(name, artifact_location=f"{root}/{name}" if root else None)


def metric_key(*parts: object) -> str:
    """A metric or param name MLflow accepts, parts joined by dots (odd characters -> ``_``)."""
    return ".".join(_BAD_KEY_CHARS.sub("_", str(p)) for p in parts)


def flatten(prefix: str, values: Mapping[str, Any]) -> dict[str, float]:
    """Numeric leaves of a nested mapping as ``prefix.key.subkey`` metrics (None skipped)."""
    out: dict[str, float] = {}
    for k, v in values.items():
        key = metric_key(prefix, k) if prefix else metric_key(k)
        if isinstance(v, Mapping):
            out |= flatten(key, v)
        elif isinstance(v, bool | int | float | np.integer | np.floating) and v is not None:
            f = float(v)
            if math.isfinite(f):
                out[key] = f
    return out


def start_run(c: MlflowClient, *, uri: str, experiment: str, run_name: str,
              tags: Mapping[str, str]) -> str:
    """Create a run in ``experiment``; returns its id."""
    run = c.create_run(experiment_id(c, experiment, uri), run_name=run_name,
                       tags={k: str(v) for k, v in tags.items()})
    return run.info.run_id


def log_values(c: MlflowClient, run_id: str, *, params: Mapping[str, Any] | None = None,
               metrics: Mapping[str, float] | None = None,
               tags: Mapping[str, Any] | None = None) -> None:
    """Log params, metrics and tags in MLflow-sized batches."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.utils.time import get_current_time_millis

    now = get_current_time_millis()
    p = [Param(metric_key(k), str(v)[:6000]) for k, v in (params or {}).items()]
    m = [Metric(metric_key(k), float(v), now, 0) for k, v in (metrics or {}).items()]
    t = [RunTag(metric_key(k), str(v)[:8000]) for k, v in (tags or {}).items()]
    for i in range(0, max(len(p), len(m), len(t)), _BATCH):
        c.log_batch(run_id, metrics=m[i:i + _BATCH], params=p[i:i + _BATCH],
                    tags=t[i:i + _BATCH])


def register_version(c: MlflowClient, *, name: str, run_id: str, tags: Mapping[str, Any],
                     description: str = "") -> str:
    """Register the run's model artifact as a new version of ``name``; returns the version."""
    from mlflow.exceptions import MlflowException

    try:
        c.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        c.create_registered_model(name, description="Need model of the assist service: ranks "
                                  "households for caseworker referral (finding people to help).")
    source = f"{c.get_run(run_id).info.artifact_uri}/{MODEL_ARTIFACT}"
    mv = c.create_model_version(name, source=source, run_id=run_id,
                                tags={k: str(v) for k, v in tags.items()},
                                description=description or None)
    return str(mv.version)


def finish_run(c: MlflowClient, run_id: str, *, failed: bool = False) -> None:
    """Mark the run finished (or failed)."""
    c.set_terminated(run_id, "FAILED" if failed else "FINISHED")


# -- plots -----------------------------------------------------------------------------------
def _figure(width: float, height: float):  # noqa: ANN202 - matplotlib Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def calibration_plot(path: Path, panels: Iterable[tuple[str, Mapping[str, tuple[Any, Any]]]],
                     *, bins: int = 10) -> Path:
    """Reliability diagrams: per panel (title, {curve: (outcomes, probabilities)}), observed
    rate against mean predicted probability in equal-width bins, with bin counts."""
    panels = list(panels)
    fig = _figure(5.2 * max(1, len(panels)), 4.6)
    for i, (title, curves) in enumerate(panels):
        ax = fig.add_subplot(1, max(1, len(panels)), i + 1)
        ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfect")
        for label, (y, p) in curves.items():
            y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
            if y.size == 0:
                continue
            b = np.minimum((p * bins).astype(int), bins - 1)
            n = np.bincount(b, minlength=bins)
            ok = n > 0
            mean_p = np.bincount(b, weights=p, minlength=bins)[ok] / n[ok]
            rate = np.bincount(b, weights=y, minlength=bins)[ok] / n[ok]
            ax.plot(mean_p, rate, marker="o", linewidth=1.2, label=f"{label} (n={y.size:,})")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean predicted probability",
               ylabel="observed rate", title=title)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def shap_summary_plot(path: Path, contrib: np.ndarray, values: np.ndarray,
                      names: list[str], *, max_points: int = 3000, seed: int = 0) -> Path:
    """Beeswarm-style SHAP summary: per indicator (most important on top), each household's
    contribution, coloured by the indicator's value rank (blue low, red high)."""
    contrib, values = np.asarray(contrib, dtype=float), np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    rows = np.arange(len(contrib))
    if len(rows) > max_points:
        rows = np.sort(rng.choice(rows, max_points, replace=False))
    order = np.argsort(np.abs(contrib).mean(axis=0))  # least important first (bottom)
    fig = _figure(9.0, 0.32 * len(names) + 1.6)
    ax = fig.add_subplot(1, 1, 1)
    for pos, j in enumerate(order):
        c, v = contrib[rows, j], values[rows, j]
        colour = np.full(len(v), 0.5)
        known = ~np.isnan(v)
        if known.sum() > 1:
            ranks = v[known].argsort().argsort()
            colour[known] = ranks / max(1, known.sum() - 1)
        jitter = rng.uniform(-0.3, 0.3, len(c))
        ax.scatter(c, pos + jitter, c=colour, cmap="coolwarm", vmin=0, vmax=1, s=4,
                   alpha=0.6, linewidths=0)
    ax.axvline(0, color="0.5", linewidth=0.8)
    ax.set_yticks(range(len(order)), [names[j] for j in order], fontsize=8)
    ax.set_xlabel("TreeSHAP contribution to the raw score (log-odds)")
    ax.set_title("Indicator contributions (colour: value, blue low, red high)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    return path
