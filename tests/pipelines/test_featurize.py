"""`assist features` end to end on a small simulated district: simulate -> ingest -> features."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from assist.cli.app import app
from assist.features import CATALOG

AS_OF = "2026-10"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(ws)}
    runner = CliRunner()
    for args in (["simulate", "--households", "1500", "--months", "3", "--seed", "3"], ["ingest"]):
        res = runner.invoke(app, args, env=env)
        assert res.exit_code == 0, res.output
    return ws, env


def test_features_command_writes_tables(workspace):
    ws, env = workspace
    res = CliRunner().invoke(app, ["features", "--as-of", AS_OF], env=env)
    assert res.exit_code == 0, res.output
    folder = ws / "features" / AS_OF
    feats = pd.read_parquet(folder / "features.parquet")
    profile = pd.read_parquet(folder / "profile.parquet")
    attrs = pd.read_parquet(folder / "attributes.parquet")
    meta = json.loads((folder / "meta.json").read_text())
    assert list(feats.columns) == CATALOG.ids
    assert list(profile.columns) == CATALOG.dimensions
    assert feats.index.equals(profile.index) and feats.index.equals(attrs.index)
    assert 1300 < len(feats) <= 1500
    assert feats.index.str.fullmatch(r"h[0-9a-f]{20}").all()
    assert meta["households"] == len(feats) and meta["catalog_version"] == CATALOG.version
    # every indicator is computed for most households; some are deprived somewhere
    assert (feats.notna().mean() > 0).all()
    assert CATALOG.deprivation(feats).any().sum() >= 15
    assert attrs["street_code"].notna().all()


def test_features_for_an_unknown_month_is_a_clear_error(workspace):
    _, env = workspace
    res = CliRunner().invoke(app, ["features", "--as-of", "2019-01"], env=env)
    assert res.exit_code == 2
    assert "error" in res.output and "Traceback" not in res.output


def test_failed_rebuild_keeps_previous_features(workspace, monkeypatch):
    ws, env = workspace
    runner = CliRunner()
    assert runner.invoke(app, ["features", "--as-of", AS_OF], env=env).exit_code == 0
    folder = ws / "features" / AS_OF
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(OSError):
        from assist.pipelines.featurize import build_features

        build_features(store=ws / "store", as_of=AS_OF, out=ws / "features")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_halves_of_the_simulated_district_concatenate_to_the_whole(workspace):
    """Building on any subset of households (with all their rows) gives the same rows."""
    from assist.features import build
    from assist.pipelines.featurize import load_for_features

    ws, _ = workspace
    tables = load_for_features(ws / "store", AS_OF)
    whole = build(tables, AS_OF)
    ids = whole.index.to_series()
    first = set(ids.iloc[::2])
    parts = []
    for keep in (lambda h: h.isin(first), lambda h: ~h.isin(first)):
        part = {name: df.loc[keep(df["household_id"]).to_numpy(dtype=bool)] for name, df in tables.items()}
        parts.append(build(part, AS_OF))
    pd.testing.assert_frame_equal(pd.concat(parts).sort_index(), whole)
    shuffled = {name: df.sample(frac=1.0, random_state=1) for name, df in tables.items()}
    pd.testing.assert_frame_equal(build(shuffled, AS_OF), whole)


def test_one_load_serves_this_month_and_the_month_before(workspace):
    """Tables loaded once for two months give each month exactly what a separate load gives."""
    from assist.features import build
    from assist.features.attributes import household_attributes
    from assist.pipelines.featurize import load_for_features, load_for_months, tables_as_of

    ws, _ = workspace
    both = load_for_months(ws / "store", AS_OF, earlier=1)
    assert len(both["persons"]) > len(load_for_features(ws / "store", AS_OF)["persons"])
    for month in (AS_OF, "2026-09"):
        alone = load_for_features(ws / "store", month)
        shared = tables_as_of(both, month)
        assert sorted(shared) == sorted(alone)
        for name in alone:
            pd.testing.assert_frame_equal(shared[name], alone[name], check_exact=True)
        pd.testing.assert_frame_equal(build(shared, month), build(alone, month), check_exact=True)
        pd.testing.assert_frame_equal(household_attributes(shared, month),
                                      household_attributes(alone, month), check_exact=True)
    assert set(tables_as_of(both, "2026-09")["persons"]["snapshot"]) == {"2026-09"}
