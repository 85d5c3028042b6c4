"""``assist simulate-loop``: a small district under the model policy and the status quo.

The shared start is lived, ingested and trained once; each policy then scores, allocates,
lets the simulator visit and the simulated caseworkers record their findings through the case
store's service layer, month after month; the model policy retrains from the labels it
gathered. The JSON has the documented shape and the figures are consistent with the case store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from assist.cli.app import app
from assist.reports.loop import MONTH_FIELDS
from assist.serving.models import Decision, Referral, User

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    ws = tmp_path_factory.mktemp("loop")
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(ws)}
    result = CliRunner().invoke(app, [
        "simulate-loop", "--households", "3000", "--months", "2", "--history", "10",
        "--seed", "5", "--retrain-every", "1", "--policies", "model,status-quo",
        "--json", str(ws / "out.json")], env=env)
    assert result.exit_code == 0, result.output
    return ws, json.loads((ws / "out.json").read_text(encoding="utf-8")), result.output


def test_the_json_has_the_documented_shape(loop):
    _, figures, output = loop
    assert set(figures["policies"]) == {"model", "status-quo"}
    for f in figures["policies"].values():
        assert len(f["months"]) == 2
        assert all(set(MONTH_FIELDS) <= set(m) for m in f["months"])
        assert 0 < f["reached_cumulative"] <= 1
        assert {"uplift_estimate", "uplift_true"} <= set(f)
    model = figures["policies"]["model"]["months"]
    assert all(m["visits"] > 0 and 0 <= m["precision_truth"] <= 1 for m in model)
    assert all(m["ece_population"] is not None for m in model)
    assert all(m["ece_population"] is None
               for m in figures["policies"]["status-quo"]["months"])
    assert "the whole run" in output


def test_every_allocated_visit_is_a_decision_by_a_caseworker_of_its_street(loop):
    ws, figures, _ = loop
    engine = create_engine(f"sqlite:///{ws / 'loop' / 'model' / 'assist.db'}")
    with Session(engine) as session:
        rows = session.execute(
            select(Referral.street_code, Decision.outcome, Decision.version, User.username,
                   Decision.override, Decision.override_reason)
            .join(Decision, Decision.referral_id == Referral.id)
            .join(User, User.id == Decision.recorded_by)).all()
    engine.dispose()
    frame = pd.DataFrame(rows, columns=["street", "outcome", "version", "user", "override",
                                        "reason"])
    visits = sum(m["visits"] for m in figures["policies"]["model"]["months"])
    assert len(frame) == visits
    assert (frame["user"] == "sim-" + frame["street"].str.lower()).all()
    assert set(frame["outcome"]) <= {"confirmed", "not_in_need", "unreachable", "declined"}
    assert frame.loc[frame["override"], "reason"].notna().all()


def test_labels_carry_how_each_visit_was_chosen(loop):
    ws, _, _ = loop
    import yaml

    config = yaml.safe_load((ws / "loop" / "model" / "experiment.yaml").read_text("utf-8"))
    assert Path(config["data"]["extra_labels"]).is_absolute()   # read from any folder
    assert config["labels"] == {"sensitivity": 0.9556, "specificity": 0.9333}
    labels = pd.read_parquet(ws / "loop" / "model" / "casebook" / "labels.parquet")
    assert set(labels["selection"]) <= {"rank", "pinned", "exploration"}
    assert "exploration" in set(labels["selection"])
    explored = labels.loc[labels["selection"] == "exploration", "propensity"]
    assert explored.between(0, 1, inclusive="neither").all()
    assert (labels.loc[labels["selection"] == "rank", "propensity"] == 1).all()


def test_a_bad_policy_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(app, ["simulate-loop", "--policies", "model,oracle"],
                                env={"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path)})
    assert result.exit_code == 2
    assert "unknown policy 'oracle'" in result.output


def test_the_uplift_estimate_reads_the_policys_own_records(loop):
    ws, figures, _ = loop
    model = figures["policies"]["model"]
    # two months: no granted household has had its review 2-4 months on yet
    assert model["uplift"]["households"] == 0 and model["uplift_estimate"] is None
    assert "fewer than" in model["uplift"]["reason"] and model["uplift"]["true_matched"] is None
    assert figures["policies"]["status-quo"]["uplift"] is None   # no records of its own
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(ws / "loop" / "model")}
    result = CliRunner().invoke(app, ["report", "uplift", "--config",
                                      str(ws / "loop" / "model" / "experiment.yaml"),
                                      "--json", str(ws / "uplift.json")], env=env)
    assert result.exit_code == 0, result.output
    assert "uplift not estimated" in result.output
    saved = json.loads((ws / "uplift.json").read_text(encoding="utf-8"))
    assert saved["sensitivity"] == 0.9556 and saved["effect"] is None
    bad = CliRunner().invoke(app, ["report", "uplift", "--config", str(ws / "none.yaml")],
                             env=env)
    assert bad.exit_code == 2 and "--sensitivity" in bad.output
