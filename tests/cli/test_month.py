"""``assist month``: a new month of extracts arrives and one command runs the whole cycle.

A small simulated district (1,500 households): five months are ingested and a need model is
trained and promoted; then the sixth month's extracts arrive and ``assist month`` ingests only
them, builds the month's features, snapshots the case store's decisions, scores the month and
loads it into the case store. Run twice, it changes nothing and says so; a month without
extracts fails with a one-line error; a run killed in the middle finishes when run again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assist.cli.app import app
from assist.experiments import registry, tracking
from assist.experiments.config import parse_config
from assist.ingest.run import ingest
from assist.pipelines import month as cycle
from assist.pipelines.train import run_training
from assist.settings import DEV_PSEUDONYM_KEY, Settings
from assist.simulate import simulate
from assist.storage import snapshot

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
NEW = "2026-11"


def _copy(src: Path, dst: Path, *, only: str | None = None, skip: str | None = None) -> None:
    for f in sorted(src.rglob("*.parquet")):
        if (only and f.stem != only) or (skip and f.stem == skip):
            continue
        target = dst / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> tuple[Path, Path]:
    """A workspace with five months ingested and a production model; the sixth month aside."""
    root = tmp_path_factory.mktemp("month")
    ws = root / "ws"
    simulate(households=1500, months=6, seed=5, end_month=NEW, out=root / "all",
             truth_out=ws / "truth")
    _copy(root / "all", ws / "source", skip=NEW)
    s = Settings(env="dev", workspace=ws, pseudonym_key=DEV_PSEUDONYM_KEY)
    ingest(source=ws / "source", out=ws / "store", key=DEV_PSEUDONYM_KEY)
    raw = yaml.safe_load((ROOT / "experiments" / "default.yaml").read_text(encoding="utf-8"))
    raw["validation"].update(test_folds=1, calibration_months=1, min_train_months=1)
    raw["model"]["n_estimators"] = 20
    trained = run_training(config=parse_config(raw), base_dir=ROOT, settings=s, register=True)
    registry.promote(tracking.client(s.mlflow_uri), name=tracking.MODEL_NAME,
                     version=trained.version, force=True, user="test", reason="test district")
    return root, ws


def _month(ws: Path, as_of: str = NEW):  # noqa: ANN202 - click Result
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(ws),
           "ASSIST_PSEUDONYM_KEY": DEV_PSEUDONYM_KEY}
    return CliRunner().invoke(app, ["month", "--as-of", as_of], env=env)


def _statuses(ws: Path, as_of: str = NEW) -> dict[str, str]:
    return {k: v.status for k, v in cycle.load_record(ws, as_of).stages.items()}


def test_a_new_month_in_one_command_then_nothing_to_do(district):
    root, ws = district
    _copy(root / "all", ws / "source", only=NEW)
    res = _month(ws)
    assert res.exit_code == 0, res.output
    # the first scored month: no list of last month to audit yet
    assert _statuses(ws) == {**dict.fromkeys(cycle.STAGES, cycle.DONE), "audit": cycle.UNCHANGED}
    record = cycle.load_record(ws, NEW)
    assert record.stages["audit"].detail == "no list of 2026-10 to audit"
    assert "12 file(s) validated" in record.stages["ingest"].detail  # only the new month
    assert snapshot.current(ws / "scores") == NEW
    summary = snapshot.read_summary(ws / "scores", NEW)
    assert summary["model_version"].endswith("/1")
    assert (ws / "reports" / NEW / "coverage.json").is_file()
    assert "loaded" in record.stages["load"].detail
    assert f"month {NEW} complete" in res.output

    again = _month(ws)
    assert again.exit_code == 0, again.output
    assert _statuses(ws) == {"ingest": cycle.UNCHANGED, "features": cycle.UNCHANGED,
                             "decisions": cycle.UNCHANGED, "score": cycle.UNCHANGED,
                             "load": cycle.UNCHANGED, "audit": cycle.UNCHANGED}
    assert json.loads((ws / "scores" / NEW / "summary.json").read_text())["revision"] == \
        summary["revision"]


def test_a_month_without_extracts_fails_with_one_line(district):
    _, ws = district
    res = _month(ws, "2026-12")
    assert res.exit_code == 2
    assert "no extracts for 2026-12" in res.output
    assert "Traceback" not in res.output
    assert _statuses(ws, "2026-12") == {"ingest": cycle.FAILED}


def test_a_killed_month_finishes_when_run_again(district, monkeypatch):
    root, ws = district
    shutil.rmtree(ws / "features" / NEW)
    (ws / "months" / f"{NEW}.json").unlink()
    import assist.cli.month as cli_month

    def killed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_month, "_decisions", killed)
    with pytest.raises(KeyboardInterrupt):
        cli_month.run_month(Settings(env="dev", workspace=ws, pseudonym_key=DEV_PSEUDONYM_KEY),
                            NEW, cli_month.month_stages(model="production", config=None))
    assert _statuses(ws) == {"ingest": cycle.UNCHANGED, "features": cycle.DONE}
    monkeypatch.undo()
    res = _month(ws)
    assert res.exit_code == 0, res.output
    statuses = _statuses(ws)
    assert statuses["features"] == cycle.UNCHANGED  # built before the kill, from this store
    assert statuses["score"] == cycle.UNCHANGED and statuses["load"] == cycle.UNCHANGED
