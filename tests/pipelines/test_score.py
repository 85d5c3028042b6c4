"""Monthly scoring end to end on a small simulated district: snapshot, ranks, referrals,
atomicity, the CLI.

The district (1,500 households x 4 months) is simulated and ingested once for the module; a
need model is trained directly on an earlier month's hidden need (test shortcut, no MLflow).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from assist.cli.app import app as assist_app
from assist.errors import ConfigError
from assist.features import CATALOG, build
from assist.ingest.run import ingest
from assist.models.need import NeedModel
from assist.pipelines.dataset import TRUTH_FILE, true_need
from assist.pipelines.featurize import load_for_features
from assist.pipelines.score import ScoringConfig, StreetEntry, config_digest, load_scoring_config, run_scoring
from assist.settings import DEV_PSEUDONYM_KEY
from assist.simulate import simulate

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-10"


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> tuple[Path, Path]:
    """Workspace with source, truth, store, and a saved need model."""
    ws = tmp_path_factory.mktemp("score")
    simulate(households=1500, months=4, seed=3, out=ws / "source", truth_out=ws / "truth")
    ingest(source=ws / "source", out=ws / "store", key=DEV_PSEUDONYM_KEY)
    X = build(load_for_features(ws / "store", "2026-08"), "2026-08")  # noqa: N806
    y = true_need(ws / "truth" / TRUTH_FILE, key=DEV_PSEUDONYM_KEY, month="2026-08")
    y = y.reindex(X.index).fillna(0.0)
    model = NeedModel(num_threads=1, n_estimators=50, min_child_samples=10).fit(
        X, y, X_cal=X, y_cal=y)
    path = model.save(ws / "need_model.json")
    return ws, path


def _config() -> ScoringConfig:
    cfg = load_scoring_config(ROOT / "experiments" / "scoring.yaml")
    streets = {"default": StreetEntry(visits=8, floor=2)}
    return cfg.model_copy(update={"allocation": cfg.allocation.model_copy(
        update={"streets": streets})})


def _run(ws: Path, model_path: Path, out: Path, **kw):
    cfg = _config()
    model = NeedModel.load(model_path, expected_features=CATALOG.ids,
                           expected_catalog_version=CATALOG.version, num_threads=1)
    return run_scoring(store=ws / "store", as_of=AS_OF, out=out, model=model,
                       model_version="test-1", config=cfg, config_hash=config_digest(cfg),
                       truth_dir=ws / "truth", key=DEV_PSEUDONYM_KEY, **kw)


@pytest.fixture(scope="module")
def run(district, tmp_path_factory):
    ws, model_path = district
    return _run(ws, model_path, tmp_path_factory.mktemp("out") / "scores")


def test_snapshot_files_and_summary(run):
    f = run.folder
    for name in ("scores.parquet", "referrals.parquet", "summary.json"):
        assert (f / name).is_file()
    summary = json.loads((f / "summary.json").read_text(encoding="utf-8"))
    for key in ("model_version", "data_snapshot", "config_hash", "households_scored",
                "referrals_per_street", "flags", "allocation", "truth"):
        assert summary[key] is not None, key
    assert summary["households_scored"] == len(pd.read_parquet(f / "scores.parquet"))
    a = summary["allocation"]
    assert a["status"] == "optimal" and a["objective"] >= a["greedy"]["objective"] - 1e-9
    t = summary["truth"]
    assert t["precision_at_k"] > 2 * t["prevalence"]      # far better than chance
    streets = sorted(p.stem for p in (f / "referrals").glob("*.csv"))
    assert streets == sorted(summary["referrals_per_street"])
    current = json.loads((f.parent / "current.json").read_text(encoding="utf-8"))
    assert current["as_of"] == AS_OF


def test_ranks_are_consistent_with_scores(run):
    s = pd.read_parquet(run.folder / "scores.parquet")
    order = s.reset_index().sort_values(["raw_score", "household_id"], ascending=[False, True])
    assert order["rank_district"].tolist() == list(range(1, len(s) + 1))
    for key, col in (("street_code", "rank_street"), ("community_code", "rank_community")):
        for _, g in order.groupby(key, sort=False):
            assert g[col].tolist() == list(range(1, len(g) + 1))
    assert set(s["band"]) <= {"low", "medium", "high"}
    high = s.loc[s["band"] == "high", "probability"]
    assert high.empty or high.min() >= 0.5


def test_referrals_carry_causes_programmes_and_allocation(run):
    r = pd.read_parquet(run.folder / "referrals.parquet")
    visits = r.loc[r["allocated"]]
    explored = visits.loc[visits["selection"] == "exploration"]
    chosen = visits.loc[visits["selection"] != "exploration"]
    assert len(chosen) > 0
    assert set(chosen["selection"]) <= {"rank", "pinned"} and (chosen["propensity"] == 1).all()
    # exploration visits: a random sample with its sampling rate, offered no places
    assert len(explored) == round(0.05 * len(visits))
    assert explored["propensity"].between(0, 1, inclusive="right").all()
    assert explored["allocated_programmes"].map(len).eq(0).all()
    assert r.loc[~r["allocated"], "propensity"].isna().all()
    for col in ("allocated_programmes", "programmes", "reasons_en", "top_factors_en"):
        assert chosen[col].map(len).gt(0).all(), col         # lists, never empty here
    assert chosen["reasons_en"].map(len).eq(chosen["programmes"].map(len)).all()
    assert chosen["primary_cause"].notna().mean() > 0.9
    for _, row in chosen.iterrows():  # allocated places are among the referable programmes
        assert set(row["allocated_programmes"]) <= set(row["programmes"])
    per_street = visits.groupby("street_code").size()
    assert per_street.between(2, 8).all()                  # floor 2, 8 visits per street
    street = chosen["street_code"].iloc[0]
    csv = pd.read_csv(run.folder / "referrals" / f"{street}.csv", index_col="household_id",
                      keep_default_na=False)
    assert {"allocated", "primary_cause", "programmes"} <= set(csv.columns)
    part = r.loc[r["street_code"] == street]            # CSV lists: joined as the text was
    assert csv["programmes"].tolist() == [";".join(v) for v in part["programmes"]]
    assert csv["top_factors_zh"].tolist() == ["；".join(v) for v in part["top_factors_zh"]]
    assert csv["reasons_en"].tolist() == ["; ".join(v) for v in part["reasons_en"]]
    s = pd.read_parquet(run.folder / "scores.parquet")
    explained = s["primary_cause"].notna() | s["top_factors_en"].notna()
    assert explained.sum() <= s["candidate"].sum() + s["warning"].sum()


def test_failed_run_leaves_the_previous_snapshot_current(district, run, tmp_path, monkeypatch):
    ws, model_path = district
    out = tmp_path / "scores"
    first = _run(ws, model_path, out)
    before = {p.name: p.read_bytes() for p in first.folder.rglob("*") if p.is_file()}
    pointer = (out / "current.json").read_bytes()
    import assist.storage.snapshot as snapshot_module

    def disk_full(obj, path, *args, **kwargs):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(snapshot_module, "write_json", disk_full)  # the last write before the swap
    with pytest.raises(OSError, match="No space left"):
        _run(ws, model_path, out)
    monkeypatch.undo()
    after = {p.name: p.read_bytes() for p in first.folder.rglob("*") if p.is_file()}
    assert after == before
    assert (out / "current.json").read_bytes() == pointer
    assert sorted(p.name for p in out.iterdir()) == [AS_OF, "current.json"]


def test_bad_config_names_section_and_field(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("allocation:\n  streets:\n    default: {visits: -1}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="allocation.streets.default.visits"):
        load_scoring_config(bad)
    bad.write_text("allocation:\n  programmes:\n    lottery: {places: 1}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown programme"):
        load_scoring_config(bad)


def test_cli_score_with_a_model_file(district, tmp_path):
    ws, model_path = district
    cfg = tmp_path / "scoring.yaml"
    cfg.write_text("allocation:\n  streets:\n    default: {visits: 6, floor: 1}\n",
                   encoding="utf-8")
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(ws),
           "ASSIST_PSEUDONYM_KEY": DEV_PSEUDONYM_KEY}
    res = CliRunner().invoke(assist_app, ["score", "--as-of", AS_OF, "--model-path", str(model_path),
                                   "--config", str(cfg), "--out", str(tmp_path / "out")], env=env)
    assert res.exit_code == 0, res.output
    assert "precision@" in res.output and "greedy" in res.output
    assert (tmp_path / "out" / AS_OF / "summary.json").is_file()
    res = CliRunner().invoke(assist_app, ["score", "--as-of", "2031-01", "--model-path", str(model_path),
                                   "--config", str(cfg), "--out", str(tmp_path / "out")], env=env)
    assert res.exit_code == 2 and "2031-01" in res.output


def test_previous_month_from_its_snapshot_flags_like_scoring_it_afresh(district, run, tmp_path):
    """Last month scored afresh (one load for both months) or read from its snapshot: same flags."""
    ws, model_path = district
    assert run.summary["previous"].startswith("scored afresh")
    assert run.summary["flags"]["households"] > 0
    out = tmp_path / "scores"
    cfg = _config()
    model = NeedModel.load(model_path, expected_features=CATALOG.ids,
                           expected_catalog_version=CATALOG.version, num_threads=1)
    run_scoring(store=ws / "store", as_of="2026-09", out=out, model=model, model_version="test-1",
                config=cfg, config_hash=config_digest(cfg))
    again = _run(ws, model_path, out)
    assert again.summary["previous"].startswith("snapshot")
    assert again.summary["flags"] == run.summary["flags"]
    a = pd.read_parquet(run.folder / "referrals.parquet")
    b = pd.read_parquet(again.folder / "referrals.parquet")
    pd.testing.assert_frame_equal(a, b)
    s = pd.read_parquet(again.folder / "scores.parquet")
    explained = s["top_factors_en"].notna()
    assert explained.sum() == len(b) == again.summary["explained"]   # exactly the listed ones
    assert set(s.index[explained]) == set(b.index)
    assert set(b.index) == set(s.index[s["candidate"] | s["warning"]])


def test_decisions_carried_forward_change_who_is_allocated(district, run, tmp_path):
    """Without a decisions file the summary says so; with every allocated household found not
    in need last month, none of them is allocated again unless its situation changed."""
    from assist.storage.casebook import write_decisions

    ws, model_path = district
    assert run.summary["carry_forward"]["decisions"].startswith("none (no path given)")
    s = pd.read_parquet(run.folder / "scores.parquet")
    assert set(s["listing"]) == {"new"} and s["last_outcome"].isna().all()
    chosen = s.index[s["allocated"]]
    dec = pd.DataFrame({"household_id": chosen, "referral_month": "2026-09",
                        "outcome": "not_in_need", "visit_date": pd.Timestamp("2026-09-14"),
                        "programmes_granted": [[] for _ in chosen],
                        "updated_at": pd.Timestamp("2026-09-14", tz="UTC")})
    path = write_decisions(dec, tmp_path / "decisions.parquet")
    again = _run(ws, model_path, tmp_path / "scores", decisions=path)
    carried = again.summary["carry_forward"]
    assert carried["households_decided"] == len(chosen)
    t = pd.read_parquet(again.folder / "scores.parquet")
    listing = t.loc[chosen, "listing"]
    assert set(listing) <= {"suppressed_not_in_need", "reopened_changed"}
    assert (listing == "suppressed_not_in_need").sum() > len(chosen) / 2
    quiet = listing.index[listing == "suppressed_not_in_need"]
    assert not t.loc[quiet, ["allocated", "candidate"]].any().any()
    assert t.loc[quiet, "listing_en"].str.startswith("Found not in need on 2026-09-14").all()
    assert t["allocated"].sum() > 0
    r = pd.read_parquet(again.folder / "referrals.parquet")
    assert not set(quiet) & set(r.index)
    assert {"last_outcome", "last_decision_date", "listing", "listing_zh", "listing_en"} <= set(r.columns)


def test_referrals_carry_what_each_household_already_receives(district, run):
    from assist.models.matching import receiving

    ws, _ = district
    r = pd.read_parquet(run.folder / "referrals.parquet")
    tables = load_for_features(ws / "store", AS_OF)
    got = receiving(tables["assistance"], r.index, as_of=AS_OF)
    expected = [[c for c in got.columns if got.at[h, c]] for h in r.index]
    assert [list(v) for v in r["receiving"]] == expected
    assert any(expected)                                   # some listed households are assisted
    for _, row in r.iterrows():                            # never referred for what it receives
        assert not set(row["programmes"]) & set(row["receiving"])


def test_recall_parity_swaps_visits_inside_streets_and_reports_its_cost(district, run,
                                                                         tmp_path):
    """With ``fairness.recall_parity`` the same month keeps each street's visits, moves some
    between groups, and the summary says which ratios moved and what precision it cost."""
    ws, model_path = district
    cfg = _config()
    cfg = cfg.model_copy(update={"fairness": cfg.fairness.model_copy(
        update={"recall_parity": True, "min_expected": 2.0})})
    model = NeedModel.load(model_path, expected_features=CATALOG.ids,
                           expected_catalog_version=CATALOG.version, num_threads=1)
    fair = run_scoring(store=ws / "store", as_of=AS_OF, out=tmp_path / "scores", model=model,
                       model_version="test-1", config=cfg, config_hash=config_digest(cfg))
    report = fair.summary["carry_forward"]["recall_parity"]
    assert report["attributes"] == ["head_sex", "head_age_band", "head_hukou", "has_disability"]
    plain = pd.read_parquet(run.folder / "scores.parquet")
    fairer = pd.read_parquet(fair.folder / "scores.parquet")
    per_street = lambda s: s.loc[s["allocated"]].groupby("street_code").size()  # noqa: E731
    assert per_street(plain).equals(per_street(fairer))
    worst = lambda r: min(r.values()) if r else 1.0  # noqa: E731
    assert worst(report["ratios_after"]) >= worst(report["ratios_before"])
    if report["swaps"]:
        assert report["expected_precision_after"] <= report["expected_precision_before"]
    assert run.summary["carry_forward"]["recall_parity"] is None
