"""A workspace is portable: train in workspace A, copy the folder to B, then train, promote and
score (drift logged to MLflow) in B. Nothing in A changes, and every run, experiment and model
version of B's MLflow store keeps its artifacts inside B."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assist.cli.app import app
from assist.experiments.tracking import ARTIFACTS_DIR, relocate_artifacts
from assist.ingest.run import ingest
from assist.settings import DEV_PSEUDONYM_KEY
from assist.simulate import simulate
from assist.storage.store import list_snapshots

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _invoke(ws: Path, *args: str) -> str:
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(ws),
           "ASSIST_PSEUDONYM_KEY": DEV_PSEUDONYM_KEY, "ASSIST_MLFLOW_TRACKING_URI": "",
           "ASSIST_DATABASE_URL": ""}
    r = CliRunner().invoke(app, list(args), env=env)
    assert r.exit_code == 0, r.output
    return r.output


def _locations(ws: Path) -> list[str]:
    with closing(sqlite3.connect(ws / "mlflow.db")) as con:
        rows = con.execute("SELECT artifact_location FROM experiments WHERE name != 'Default' "
                           "UNION ALL SELECT artifact_uri FROM runs "
                           "UNION ALL SELECT source FROM model_versions "
                           "UNION ALL SELECT storage_location FROM model_versions").fetchall()
    return [r[0] for r in rows if r[0]]


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    """The default experiment, made small (one test fold, 40 trees)."""
    cfg = yaml.safe_load((ROOT / "experiments" / "default.yaml").read_text(encoding="utf-8"))
    cfg["validation"] |= {"test_folds": 1, "min_train_months": 1}
    cfg["model"] |= {"n_estimators": 40}
    path = tmp_path_factory.mktemp("cfg") / "small.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def test_a_copied_workspace_never_writes_to_the_original(tmp_path, config):
    a, b = tmp_path / "A", tmp_path / "B"
    simulate(households=1500, months=5, seed=11, out=a / "source", truth_out=a / "truth")
    ingest(source=a / "source", out=a / "store", key=DEV_PSEUDONYM_KEY)
    _invoke(a, "train", "--config", str(config))
    _invoke(a, "models", "promote", "1", "--force", "--reason", "first model")
    shutil.copytree(a, b)
    before = _files(a)

    _invoke(b, "train", "--config", str(config))
    _invoke(b, "models", "promote", "2", "--force", "--reason", "portable test")
    month = list_snapshots(b / "store")[-1]
    out = " ".join(_invoke(b, "score", "--as-of", month).split())  # the console wraps lines
    assert "drift logged to MLflow run" in out and "assist-need-model/2" in out

    assert _files(a) == before                       # the original: not one byte changed
    own = (b / ARTIFACTS_DIR).resolve().as_uri()
    locations = _locations(b)
    assert len(locations) >= 7 and all(loc.startswith(own + "/") for loc in locations), locations
    runs = {p.name for p in (b / ARTIFACTS_DIR).glob("*/*") if p.is_dir()}
    assert len(runs) == 2                            # both runs' artifacts are inside B
    assert relocate_artifacts(f"sqlite:///{(b / 'mlflow.db').resolve()}") == {}   # done once


def test_relocation_rewrites_only_locations_under_the_old_root(tmp_path):
    db = tmp_path / "new" / "mlflow.db"
    db.parent.mkdir()
    old = (tmp_path / "old" / ARTIFACTS_DIR).as_uri()
    with closing(sqlite3.connect(db)) as con, con:
        con.execute("CREATE TABLE experiments (name TEXT, artifact_location TEXT)")
        con.execute("CREATE TABLE runs (artifact_uri TEXT)")
        con.executemany("INSERT INTO experiments VALUES (?, ?)",
                        [("e", f"{old}/e"), ("Default", "/somewhere/mlruns/0"),
                         ("x", "s3://bucket/x")])
        con.executemany("INSERT INTO runs VALUES (?)", [(f"{old}/e/r1/artifacts",),
                                                        (f"{old}2/e/r2",), ("s3://bucket/x/r",)])
    moved = relocate_artifacts(f"sqlite:///{db}")
    new = (tmp_path / "new" / ARTIFACTS_DIR).resolve().as_uri()
    assert moved == {old: new}
    with closing(sqlite3.connect(db)) as con:
        assert con.execute("SELECT artifact_location FROM experiments").fetchall() == \
            [(f"{new}/e",), ("/somewhere/mlruns/0",), ("s3://bucket/x",)]
        assert con.execute("SELECT artifact_uri FROM runs").fetchall() == \
            [(f"{new}/e/r1/artifacts",), (f"{old}2/e/r2",), ("s3://bucket/x/r",)]
