"""Every month option of the CLI refuses a value that is not a month, in one line, before any
work is done (``assist score --as-of 2026-1x`` used to end in a pandas traceback)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from assist.cli.app import app
from assist.settings import DEV_PSEUDONYM_KEY


@pytest.mark.parametrize("args", [
    ["month", "--as-of", "garbage"],
    ["month", "--as-of", "2026-13"],
    ["score", "--as-of", "2026-1x"],
    ["features", "--as-of", "2026-00"],
    ["report", "coverage", "--as-of", "26-11"],
    ["report", "drift", "--as-of", "2026-11", "--reference", "2026/10"],
    ["casebook", "load", "--as-of", "2026-1"],
    ["ingest", "--horizon", "2031"],
    ["simulate", "--end-month", "2026-10-01"],
])
def test_a_month_that_is_not_one_is_refused_before_any_work(tmp_path, args):
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path),
           "ASSIST_PSEUDONYM_KEY": DEV_PSEUDONYM_KEY}
    res = CliRunner().invoke(app, args, env=env)
    assert res.exit_code == 2, res.output
    assert "is not a month written YYYY-MM" in res.output
    assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []  # nothing written: no month record, no store


def test_a_bug_is_one_line_not_a_traceback(monkeypatch, tmp_path):
    """An unexpected exception (a bug) reaches the user as one line with exit code 3; the
    traceback only with ASSIST_DEBUG=1."""
    from typer.testing import CliRunner

    from assist.cli.app import app
    from assist.pipelines import month as cycle

    def broken(*_args, **_kwargs):
        raise ValueError("`c` must be a one-dimensional array\nsecond line")

    monkeypatch.setattr(cycle, "load_record", broken)
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path)}
    result = CliRunner().invoke(app, ["month", "--as-of", "2026-10"], env=env)
    assert result.exit_code == 3
    assert "internal error: ValueError: `c` must be a one-dimensional array" in result.output
    assert "Traceback" not in result.output and "second line" not in result.output
    debug = CliRunner().invoke(app, ["month", "--as-of", "2026-10"],
                               env={**env, "ASSIST_DEBUG": "1"})
    assert isinstance(debug.exception, ValueError)


def test_a_demo_too_short_to_train_is_refused_before_simulating(tmp_path):
    """``assist demo --months 6`` used to simulate and ingest for minutes, then fail in
    training; the months the experiment config needs are checked first."""
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(tmp_path),
           "ASSIST_PSEUDONYM_KEY": DEV_PSEUDONYM_KEY}
    res = CliRunner().invoke(app, ["demo", "--households", "500", "--months", "6"], env=env)
    assert res.exit_code == 2, res.output
    assert "needs at least 8 months" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "source").exists()  # nothing simulated
