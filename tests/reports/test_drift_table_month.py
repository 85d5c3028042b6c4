"""Drift catches a table-month gone wrong, end to end: a simulated district whose income
department delivers its last month with the financial-assets column blank in a third of the
rows (a changed extract, not a change of the households). Ingest accepts it (blanks are allowed),
the features carry it, and ``assist report drift`` flags the indicator it feeds on its missing
share alone, in both languages, without touching the month's own drift report."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assist.cli.app import app
from assist.features import CATALOG

MONTHS = ("2026-09", "2026-10")  # after a first month (2026-08: no income history yet)
DOCTORED = "financial_assets_months"  # fed by income.financial_assets


@pytest.fixture(scope="module")
def doctored(tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(ws)}
    runner = CliRunner()
    res = runner.invoke(app, ["simulate", "--households", "1200", "--months", "3", "--seed", "5"],
                        env=env)
    assert res.exit_code == 0, res.output
    extract = ws / "source" / "income" / f"{MONTHS[1]}.parquet"
    income = pd.read_parquet(extract)
    blank = np.random.default_rng(3).random(len(income)) < 1 / 3
    income.loc[blank, "financial_assets"] = np.nan
    income.to_parquet(extract)
    for args in (["ingest"], *(["features", "--as-of", m] for m in MONTHS)):
        res = runner.invoke(app, args, env=env)
        assert res.exit_code == 0, res.output
    return ws, env


def test_the_catalog_feeds_the_indicator_from_that_column():
    assert DOCTORED in CATALOG.ids and "income" in CATALOG[DOCTORED].sources


def test_a_table_month_with_a_jump_in_missing_share_is_flagged(doctored):
    ws, env = doctored
    month_report = ws / "reports" / MONTHS[1] / "drift.json"
    month_report.parent.mkdir(parents=True)
    month_report.write_text('{"as_of": "2026-10", "written_by": "scoring"}', encoding="utf-8")
    res = CliRunner().invoke(app, ["report", "drift", "--as-of", MONTHS[1], "--reference",
                                   MONTHS[0], "--json"], env=env)
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    rows = {r["feature"]: r for r in rep["features"]}
    row = rows[DOCTORED]
    assert row["missing_change"] > 0.2  # about a third of the households lost the value
    assert row["missing_level"] == row["verdict"] == "act"
    assert DOCTORED in rep["flagged"]["act"]
    # no other indicator reads that column: no other missing share jumped
    jumps = {f: r["missing_change"] for f, r in rows.items()
             if f in CATALOG.ids and abs(r["missing_change"] or 0) >= 0.02}
    assert jumps.keys() == {DOCTORED}, jumps
    # an explicit reference writes its own file, never the month's drift report
    assert json.loads(month_report.read_text(encoding="utf-8"))["written_by"] == "scoring"
    html = (ws / "reports" / MONTHS[1] / f"drift-vs-{MONTHS[0]}.html").read_text(encoding="utf-8")
    zh, en = html.split('id="en"')
    zh_row = next(r for r in re.findall(r"<tr>.*?</tr>", zh, flags=re.S)
                  if CATALOG[DOCTORED].name_zh in r)
    assert "⚠" in zh_row and "个百分点" in zh_row
    assert "percentage points" in en
