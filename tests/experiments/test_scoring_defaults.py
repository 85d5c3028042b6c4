"""The documented scoring config is the one used: the built-in defaults equal
``experiments/scoring.yaml`` (section by section, and by hash), and a command without
``--config`` finds the file from the working folder or the workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from assist.pipelines.score_config import (
    DEFAULT_CONFIG,
    ScoringConfig,
    config_digest,
    default_config_path,
    load_scoring_config,
)

ROOT = Path(__file__).resolve().parents[2]


def test_built_in_defaults_equal_the_documented_file():
    documented = load_scoring_config(ROOT / DEFAULT_CONFIG)
    built_in = ScoringConfig()
    for section in ScoringConfig.model_fields:
        assert getattr(built_in, section) == getattr(documented, section), section
    assert config_digest(built_in) == config_digest(documented)
    assert built_in.capacities().programmes["dibao"].places == 80   # not unlimited


def test_the_file_is_found_from_the_working_folder_or_the_workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ws = tmp_path / "project" / "var"
    ws.mkdir(parents=True)
    assert default_config_path(ws) is None
    beside = tmp_path / "project" / DEFAULT_CONFIG
    beside.parent.mkdir()
    beside.write_text("deprivation_k: 0.5\n", encoding="utf-8")
    assert default_config_path(ws) == beside.resolve()
    here = tmp_path / DEFAULT_CONFIG
    here.parent.mkdir()
    here.write_text("deprivation_k: 0.4\n", encoding="utf-8")
    assert default_config_path(ws) == here
    assert load_scoring_config(default_config_path(ws)).deprivation_k == pytest.approx(0.4)
