"""Training runs on a simulated district: labels without leakage, temporal folds, baselines,
MLflow tracking and registry, the promotion gate, model loading checks, a flat table, the CLI.

The district (4,000 households x 8 months) is simulated and ingested once for the module.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from assist.cli.app import app
from assist.errors import ConfigError, InputError
from assist.experiments import registry, tracking
from assist.experiments.config import parse_config
from assist.features import CATALOG
from assist.features.catalog import Catalog
from assist.ingest.pseudonym import pseudonym
from assist.ingest.run import ingest
from assist.models.metrics import capacity
from assist.models.need import IncompatibleModelError
from assist.pipelines.dataset import outcomes_in_month, store_dataset
from assist.pipelines.evaluate import temporal_folds
from assist.pipelines.train import load_version, run_training
from assist.settings import DEV_PSEUDONYM_KEY, Settings
from assist.simulate import simulate
from tests.conftest import HOUSEHOLD_IDS, KEY, RawSource

pytestmark = pytest.mark.slow
HOUSEHOLDS, MONTHS = 4000, 8
NAME = "assist-need-model"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A simulated, ingested district in a fresh workspace (its own MLflow store)."""
    ws = tmp_path_factory.mktemp("district")
    simulate(households=HOUSEHOLDS, months=MONTHS, seed=7, out=ws / "source",
             truth_out=ws / "truth")
    ingest(source=ws / "source", out=ws / "store", key=DEV_PSEUDONYM_KEY)
    return ws


@pytest.fixture(scope="module")
def settings(workspace) -> Settings:
    return Settings(env="dev", workspace=workspace, pseudonym_key=DEV_PSEUDONYM_KEY,
                    mlflow_tracking_uri=None)


@pytest.fixture(scope="module")
def env(workspace) -> dict[str, str]:
    """Environment of CLI invocations against the district's workspace."""
    return {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(workspace),
            "ASSIST_PSEUDONYM_KEY": DEV_PSEUDONYM_KEY, "ASSIST_MLFLOW_TRACKING_URI": ""}


@pytest.fixture(scope="module")
def good(settings):
    """Version 1: the default config, trained, tracked and registered."""
    cfg = parse_config(yaml.safe_load((Path(__file__).parents[2] / "experiments" /
                                       "default.yaml").read_text(encoding="utf-8")))
    return run_training(config=cfg, base_dir=Path("."), settings=settings)


def test_outcomes_in_month_latest_informative_visit():
    v = pd.DataFrame({
        "verification_id": ["v1", "v2", "v3", "v4", "v5", "v6"],
        "household_id": ["a", "a", "b", "c", "d", "d"],
        "visit_date": pd.to_datetime(["2026-05-03", "2026-05-20", "2026-05-09", "2026-04-30",
                                      "2026-05-02", "2026-05-28"]),
        "outcome": ["not_in_need", "confirmed", "unreachable", "confirmed", "confirmed",
                    "declined"],
    })
    got = outcomes_in_month({"verifications": v}, "2026-05")
    # a: the later visit wins; b: unreachable says nothing; c: visited in April; d: a declined
    # visit does not override the informative one
    assert got.to_dict() == {"a": 1.0, "d": 1.0}
    # case-store labels are put over these by store_dataset (tests/pipelines/test_dataset.py)


def test_labels_come_from_the_month_after_the_features(tmp_path):
    """A rejection planted in February labels January's features, never February's."""
    raw = RawSource(("2024-01", "2024-02", "2024-03"))
    verif = raw.frame("verifications", "2024-02")
    assert verif.loc[0, "household_id"] == HOUSEHOLD_IDS[0]
    raw.set("verifications", 0, "2024-02", outcome="not_in_need", trigger="application")
    raw.set("verifications", 0, "2024-03", outcome="unreachable")
    ingest(source=raw.write(tmp_path / "source"), out=tmp_path / "store", key=KEY)
    ds = store_dataset(store=tmp_path / "store", groups=["head_sex"], min_history_months=0,
                       complete_months=2)
    assert [m.month for m in ds.months] == ["2024-01", "2024-02"]
    assert [m.label_month for m in ds.months] == ["2024-02", "2024-03"]
    h1, h2 = (pseudonym(h, kind="household", key=KEY) for h in HOUSEHOLD_IDS[:2])
    jan, feb = ds.months
    assert jan.y[h1] == 0.0 and jan.y[h2] == 1.0
    assert np.isnan(feb.y[h1]) and feb.y[h2] == 1.0  # March's visit was uninformative
    # January's features cannot see the February visit; February's can
    step = feb.X["hardship_signals_12m"] - jan.X["hardship_signals_12m"]
    assert step[h1] == step[h2] + 1


def test_temporal_folds_roll_forward():
    months = [f"2026-0{i}" for i in range(2, 10)]
    folds = temporal_folds(months, test_folds=3, calibration_months=1, min_train_months=2)
    assert [(f.test, f.calibration, f.train[-1], len(f.train)) for f in folds] == [
        ("2026-07", ("2026-06",), "2026-05", 4), ("2026-08", ("2026-07",), "2026-06", 5),
        ("2026-09", ("2026-08",), "2026-07", 6)]
    with pytest.raises(ConfigError, match="section 'validation', field 'test_folds'"):
        temporal_folds(months[:5], test_folds=3, calibration_months=1, min_train_months=2)


def test_model_beats_both_baselines_on_the_latest_month(good):
    r = good.report
    assert r["latest_month"] == "2026-09" and [f["name"] for f in r["folds"]] == [
        "2026-07", "2026-08", "2026-09"]
    truth = {s: m["precision_at_k"] for s, m in r["latest"]["truth"].items()}
    verified = {s: m["precision_at_k"] for s, m in r["latest"]["verified"].items()}
    print(f"precision@k on {r['latest_month']}: truth {truth}, verified {verified}")
    # against the hidden true need of all households (k = 2% of them)
    assert truth["model"] > truth["logistic"] and truth["model"] > truth["deprivation"]
    assert r["beats_baselines"]["truth"] == {"logistic": True, "deprivation": True}
    # verified labels exist only for visited households: reported, and the gap is visible
    v, t = r["latest"]["verified"]["model"], r["latest"]["truth"]["model"]
    assert v["n"] < t["n"] / 50 and v["base_rate"] > 5 * t["base_rate"]
    assert r["model"]["calibration"] in ("sigmoid", "isotonic")
    assert r["model"]["params"]["seed"] == 0
    assert r["data"]["truth"].endswith("need.parquet")


def test_run_is_tracked_and_registered(good, settings, tmp_path):
    c = tracking.client(settings.mlflow_uri)
    assert good.version == "1" and good.run_id
    run = c.get_run(good.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model.num_leaves"] == "15" and run.data.params["seed"] == "0"
    assert run.data.params["data.test_months"] == "2026-07,2026-08,2026-09"
    assert len(run.data.tags["config_hash"]) == 64
    assert run.data.tags["data.fingerprint"] == good.report["data"]["fingerprint"]
    assert run.data.tags["catalog.version"] == CATALOG.version
    for key in ("latest.verified.model.precision_at_k", "latest.truth.model.precision_at_k",
                "latest.verified.logistic.roc_auc", "latest.verified.deprivation.recall_at_k",
                "fold.2026-07.verified.model.roc_auc", "latest.truth.model.ece",
                "beats.truth.deprivation", "disparity_truth.head_sex.F.ratio",
                "pooled.verified.model.precision_at_k",
                "group.truth.head_sex.F.recall_at_overall_k",
                "group.truth.street_code.S01.roc_auc"):
        assert key in run.data.metrics, key
    files = {f.path for f in c.list_artifacts(good.run_id)}
    assert {"model", "features.json", "catalog.json", "report.json", "per_group_metrics.csv",
            "calibration.png", "shap_summary.png", "model_card.md"} <= files
    assert [f.path for f in c.list_artifacts(good.run_id, "model")] == ["model/need_model.json"]
    # artifacts sit beside the SQLite store, not in the working directory
    root = (settings.workspace / "mlartifacts").resolve().as_uri()
    assert run.info.artifact_uri.startswith(root)
    groups = pd.read_csv(c.download_artifacts(good.run_id, "per_group_metrics.csv",
                                              str(tmp_path)))
    assert {"head_sex", "head_age_band", "head_hukou", "has_disability", "street_code"} <= set(
        groups["group"])
    assert set(groups["target"]) == {"verified", "truth"}
    assert set(groups["scorer"]) == {"model", "logistic", "deprivation"}
    mv = c.get_model_version(NAME, "1")
    assert mv.run_id == good.run_id and mv.tags["catalog.version"] == CATALOG.version
    card = registry.model_card(c, NAME, "1")
    assert card == good.card and "## Intended use" in card and "First registered version." in card


def test_model_fairness_is_logged_saved_and_follows_the_scored_month(good, settings, env,
                                                                     tmp_path):
    from assist.serving.services import reports

    c = tracking.client(settings.mlflow_uri)
    files = {f.path for f in c.list_artifacts(good.run_id)}
    assert {"heldout_predictions.parquet", "training_reference.parquet", "reports"} <= files
    fair = json.loads(Path(c.download_artifacts(good.run_id, "reports/fairness.json",
                                                str(tmp_path))).read_text(encoding="utf-8"))
    assert fair["run_id"] == good.run_id and fair["months"] == ["2026-07", "2026-08", "2026-09"]
    assert set(fair["audits"]) == {"verified", "truth"}
    assert "harm is being missed" in fair["headline"]
    path = Path(c.download_artifacts(good.run_id, "heldout_predictions.parquet", str(tmp_path)))
    preds = pd.read_parquet(path)
    assert {"household_id", "month", "score", "raw_score", "selected", "verified", "truth",
            "head_sex", "head_hukou", "street_code"} <= set(preds.columns)
    assert preds["truth"].notna().mean() > 0.9
    assert preds["household_id"].str.match(r"^h[0-9a-f]+$").all()  # pseudonyms, not names
    # the selection is the capacity (2 % of the month's households) in each test month
    by_month = preds.groupby("month")["selected"].agg(["sum", "size"])
    assert by_month["sum"].tolist() == [capacity(0.02, n) for n in by_month["size"]]
    ws_copy = settings.workspace / "reports" / "model-1" / "fairness.json"
    copied = json.loads(ws_copy.read_text(encoding="utf-8"))
    assert (copied["model_version"], copied["as_of"]) == (f"{NAME}/1", "model-1")
    # `assist audit` reads the saved predictions and reproduces the logged audit
    runner = CliRunner()
    res = runner.invoke(app, ["audit", "--scores", str(path), "--score-col", "selected",
                              "--label-col", "verified", "--group", "head_sex", "--threshold",
                              "1", "--drop-unlabelled", "--no-intersections", "--json"], env=env)
    assert res.exit_code == 0, res.output
    cli = {g["group"]: g["tpr"] for g in json.loads(res.stdout)["groups"]}
    logged = {g["group"]: g["tpr"] for g in fair["audits"]["verified"]["groups"]
              if g["attribute"] == "head_sex"}
    assert cli == pytest.approx(logged)
    res = runner.invoke(app, ["audit", "--scores", str(path), "--score-col", "score",
                              "--label-col", "truth", "--group", "head_hukou", "--top-pct", "2",
                              "--drop-unlabelled", "--json"], env=env)
    assert res.exit_code == 0, res.output
    # scoring a month with version 1 writes the month's reports, its fairness among them
    month = good.report["data"]["snapshots"][-1]
    res = runner.invoke(app, ["score", "--as-of", month, "--model", "1"], env=env)
    assert res.exit_code == 0, res.output
    assert "drift logged to MLflow run" in res.output
    listed = {(r["name"], r["as_of"]) for r in reports.available(settings)}
    assert {("coverage", month), ("drift", month), ("early_warning", month),
            ("fairness", month), ("fairness", "model-1")} <= listed
    month_fair = reports.load(settings, name="fairness")
    assert month_fair["model_version"] == f"{NAME}/1" and month_fair["as_of"] == month
    # with the rows its counts count: every group's count is the length of its list
    from assist.reports import fairness_households as fh
    from assist.reports.fairness_findings import counts

    rows = fh.read(settings.workspace / "reports" / month)
    assert set(rows["audit"]) == {"verified", "truth"}
    for label, audited in month_fair["audits"].items():
        assert (rows["audit"] == label).sum() == audited["n"]
        for g in audited["groups"]:
            got = {c: len(fh.behind(rows, audit=label, attribute=g["attribute"],
                                    group=g["group"], count=c)) for c in fh.COUNTS}
            assert got == counts(g), (label, g["attribute"], g["group"])
    drift = reports.load(settings, name="drift", as_of=month)
    assert drift["reference"].startswith(f"training data of {NAME}/1")
    assert f"drift.{month}.psi.score" in c.get_run(good.run_id).data.metrics


def test_refit_absolute_capacity_and_no_register(good, settings):
    cfg = parse_config({"config_version": 1, "model": {"final": "refit"},
                        "capacity": {"k": 50, "k_pct": 0.05}, "validation": {"test_folds": 2}})
    result = run_training(config=cfg, base_dir=Path("."), settings=settings, register=False)
    r = result.report
    assert r["capacity"]["k"] == 50  # the smaller of 50 households and 5 %
    assert r["latest"]["truth"]["model"]["k"] == 50
    assert r["model"]["last_training_month"] == "2026-09"
    assert r["model"]["final_note"].startswith("refit on 2026-04..2026-08, calibrated on 2026-09")
    assert result.run_id and result.version is None and result.card is None
    c = tracking.client(settings.mlflow_uri)
    assert registry.version_numbers(c, NAME) == ["1"]


def test_loaded_model_checks_catalog_and_features(good, settings):
    c = tracking.client(settings.mlflow_uri)
    model = load_version(c, name=NAME, version="1", catalog=CATALOG)
    assert model.feature_names_ == CATALOG.ids
    with pytest.raises(IncompatibleModelError, match="catalog version"):
        load_version(c, name=NAME, version="1", catalog=replace(CATALOG, version="1999.1.1"))
    kept = CATALOG.indicators[:-1]  # one indicator less, weights rescaled to sum to 1
    total = sum(i.weight for i in kept)
    fewer = Catalog(name=CATALOG.name, version=CATALOG.version,
                    indicators=tuple(replace(i, weight=i.weight / total) for i in kept))
    with pytest.raises(IncompatibleModelError, match="other features"):
        load_version(c, name=NAME, version="1", catalog=fewer)


def test_promotion_gate_refuses_a_worse_model_and_records_an_override(good, settings, env,
                                                                      tmp_path):
    runner = CliRunner()
    c = tracking.client(settings.mlflow_uri)
    # version 1 becomes production (forced if its disparity is out of band: say so)
    res = runner.invoke(app, ["models", "promote", "1"], env=env)
    if res.exit_code != 0:
        assert "recall of" in res.output
        res = runner.invoke(app, ["models", "promote", "1", "--force", "--reason",
                                  "first model; disparity reviewed"], env=env)
    assert res.exit_code == 0, res.output
    assert registry.production_version(c, NAME) == "1"
    # a deliberately worse candidate: the need model trained on shuffled labels
    cfg = tmp_path / "shuffled.yaml"
    cfg.write_text(yaml.safe_dump({"config_version": 1, "name": "shuffled",
                                   "validation": {"shuffle_labels": True}}), encoding="utf-8")
    res = runner.invoke(app, ["train", "--config", str(cfg)], env=env)
    assert res.exit_code == 0, res.output
    assert "registered assist-need-model version 2" in res.output
    report = registry.version_info(c, NAME, "2").report
    assert report["champion"]["version"] == "1"  # production scored on the same month
    res = runner.invoke(app, ["models", "promote", "2"], env=env)
    assert res.exit_code == 2
    assert "version 2 is refused by the promotion gate" in res.output
    assert "precision_at_k" in res.output and "worse than production version 1" in res.output
    assert registry.production_version(c, NAME) == "1"
    res = runner.invoke(app, ["models", "promote", "2", "--force"], env=env)
    assert res.exit_code == 2 and "--force needs --reason" in res.output
    res = runner.invoke(app, ["models", "promote", "2", "--force", "--reason",
                              "negative-control drill"], env=env)
    assert res.exit_code == 0, res.output
    assert registry.production_version(c, NAME) == "2"
    tags = c.get_model_version(NAME, "2").tags
    assert tags["promotion.override"] == "true"
    assert tags["promotion.override_reason"] == "negative-control drill"
    assert "precision_at_k" in tags["promotion.refused_because"]
    assert tags["promotion.previous"] == "1"
    # the model card of version 2 shows what changed
    res = runner.invoke(app, ["models", "card", "2"], env=env)
    assert res.exit_code == 0 and "Compared with version 1" in res.output
    assert "validation.shuffle_labels | False | True" in res.output


def test_models_commands(good, env, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["models", "list"], env=env)
    assert res.exit_code == 0 and "registered versions" in res.output
    res = runner.invoke(app, ["models", "show", "1"], env=env)
    assert res.exit_code == 0, res.output
    assert "fits the running code: yes" in res.output
    res = runner.invoke(app, ["models", "compare", "1", "1"], env=env)
    assert res.exit_code == 0 and "verified precision@k, test folds pooled" in res.output
    out = tmp_path / "card.md"
    res = runner.invoke(app, ["models", "card", "1", "--out", str(out)], env=env)
    assert res.exit_code == 0 and out.read_text(encoding="utf-8") == good.card
    for args in (["models", "show", "99"], ["models", "card", "99"],
                 ["models", "compare", "1", "99"], ["models", "promote", "99"]):
        res = runner.invoke(app, args, env=env)
        assert res.exit_code == 2 and "has no version 99" in res.output, args


def test_validate_config_cli(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["validate-config", str(Path(__file__).parents[2] / "experiments"
                                                     / "default.yaml")])
    assert res.exit_code == 0 and "valid" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("config_version: 1\nbaselines:\n  deprivation_k: 2\n", encoding="utf-8")
    res = runner.invoke(app, ["validate-config", str(bad)])
    assert res.exit_code == 2
    assert "section 'baselines', field 'deprivation_k'" in res.output
    res = runner.invoke(app, ["validate-config", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2 and "does not exist" in res.output


def _flat_table(tmp_path: Path, *, snapshots: bool) -> tuple[Path, Path]:
    """A district's own export: 3 indicators, a 1-4 'Target' (1 = extreme poverty), regions."""
    rng = np.random.default_rng(3)
    n = 3000
    income = rng.gamma(2.0, 1.0, n)
    rooms = rng.integers(1, 6, n).astype(float)
    rooms[rng.random(n) < 0.05] = np.nan
    members = rng.integers(1, 8, n)
    risk = -1.2 * income - 0.4 * np.nan_to_num(rooms, nan=3) + 0.3 * members
    target = np.digitize(risk + rng.normal(0, 1, n), np.quantile(risk, [0.15, 0.35, 0.6]))
    df = pd.DataFrame({"hh": [f"H{i}" for i in range(n)], "income": income, "rooms": rooms,
                       "members": members, "Target": 4 - target,
                       "region": rng.choice(["north", "south"], n)})
    if snapshots:
        df["month"] = np.repeat(["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"], n // 5)
        df["hh"] = [f"H{i % (n // 5)}" for i in range(n)]
    table = tmp_path / "district.csv"
    df.to_csv(table, index=False)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump({"name": "own", "version": "3", "indicators": [
        {"id": "income", "column": "income", "dimension": "income", "direction": -1,
         "cutoff": 1.0, "weight": 0.5},
        {"id": "rooms_per_member", "expr": "rooms / members", "dimension": "housing",
         "direction": -1, "cutoff": 0.5, "weight": 0.25},
        {"id": "members", "column": "members", "dimension": "care", "direction": 1,
         "cutoff": 5, "weight": 0.25}]}), encoding="utf-8")
    return table, catalog


def test_flat_table_without_months_uses_stratified_kfold(tmp_path, settings):
    table, catalog = _flat_table(tmp_path, snapshots=False)
    cfg = parse_config({"config_version": 1, "name": "own-table", "data": {
        "source": "table", "table": table.name, "catalog": catalog.name, "label": "Target <= 2",
        "id_column": "hh", "group_columns": ["region"]},
        "gate": {"attributes": ["region"]},
        "tracking": {"experiment": "own-table", "registered_model": "own-table-model"}})
    result = run_training(config=cfg, base_dir=tmp_path, settings=settings)
    r = result.report
    assert not r["data"]["temporal"] and [f["name"] for f in r["folds"]] == [
        f"fold-{i}" for i in range(1, 6)]
    assert any("temporal validation was not possible" in n for n in r["notes"])
    assert "temporal validation was not possible" in result.card
    assert r["latest"]["truth"] is None and r["model"]["features"] == [
        "income", "rooms_per_member", "members"]
    assert r["latest"]["verified"]["model"]["roc_auc"] > 0.75
    assert result.version == "1"
    c = tracking.client(settings.mlflow_uri)
    assert c.get_model_version("own-table-model", "1").tags["catalog.name"] == "own"
    assert json.loads(registry.run_text(c, result.run_id, "catalog.json"))["version"] == "3"


def test_flat_table_with_months_is_temporal(tmp_path, settings):
    table, catalog = _flat_table(tmp_path, snapshots=True)
    cfg = parse_config({"config_version": 1, "data": {
        "source": "table", "table": str(table), "catalog": str(catalog), "label": "Target",
        "id_column": "hh", "snapshot_column": "month"}, "validation": {"test_folds": 2},
        "gate": {"attributes": []}})
    with pytest.raises(InputError, match="label column holds values other than 0/1"):
        run_training(config=cfg, base_dir=tmp_path, settings=settings, track=False)
    cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"label": "Target <= 2"})})
    r = run_training(config=cfg, base_dir=tmp_path, settings=settings, track=False).report
    assert r["data"]["temporal"] and [f["name"] for f in r["folds"]] == ["2024-04", "2024-05"]
    assert r["folds"][0]["train"] == ["2024-01", "2024-02"]
    assert r["folds"][-1]["calibration"] == ["2024-04"]
