"""Experiment configs: validation names the section and field at fault; the hash is canonical."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assist.errors import ConfigError
from assist.experiments.config import (
    ExperimentConfig,
    config_hash,
    flat_params,
    load_config,
    parse_config,
    resolve,
)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "experiments" / "default.yaml"


def test_default_config_is_valid_and_complete():
    cfg, base = load_config(DEFAULT)
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.config_version == 1 and cfg.data.source == "store"
    assert base == DEFAULT.parent
    # every field is written out, so the file documents the whole schema
    raw = yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))
    for section, model in ExperimentConfig.model_fields.items():
        assert section in raw, section
        sub = getattr(model.annotation, "model_fields", None)
        if sub:
            missing = set(sub) - set(raw[section])
            table_only = {"table", "catalog", "label", "id_column", "snapshot_column",
                          "group_columns", "store"}
            assert not (missing - table_only), (section, missing)


@pytest.mark.parametrize(("raw", "expected"), [
    ({"config_version": 1, "modle": {}}, "section 'modle' is not a known section"),
    ({"config_version": 1, "model": {"num_leaves": 1}},
     "section 'model', field 'num_leaves': Input should be greater than or equal to 2"),
    ({"config_version": 1, "model": {"num_leafs": 3}},
     "section 'model', field 'num_leafs' is not a known field (known: n_estimators"),
    ({"config_version": 1, "model": 5}, "section 'model': Input should be a valid dictionary"),
    ({"config_version": 1, "name": ""}, "field 'name': String should have at least 1"),
    ({"config_version": 1, "data": {"source": "table"}},
     "section 'data', field 'table' is required when source is 'table'"),
    ({"config_version": 1, "data": {"table": "x.csv"}},
     "section 'data', field 'table' applies to source 'table' only"),
    ({"config_version": 1, "data": {"source": "tabel"}},
     "section 'data', field 'source': Input should be 'store' or 'table'"),
    ({"config_version": 1, "capacity": {"k": None, "k_pct": None}},
     "section 'capacity', field 'k' or 'k_pct' is required"),
    ({"config_version": 1, "capacity": {"k_pct": 1.5}},
     "section 'capacity', field 'k_pct': Input should be less than or equal to 1"),
    ({"config_version": 1, "gate": {"attributes": ["income"]}},
     "section 'gate', field 'attributes': ['income'] not among the reported groups"),
    ({"config_version": 1, "validation": {"test_folds": 0}},
     "section 'validation', field 'test_folds': Input should be greater than or equal to 1"),
    ({"config_version": 1, "model": {"final": "best"}},
     "section 'model', field 'final': Input should be 'latest_fold' or 'refit'"),
    ({"config_version": 1, "labels": {"sensitivity": 0.4}},
     "section 'labels', field 'sensitivity': Input should be greater than 0.5"),
    ({"config_version": 2}, "field 'config_version' must be 1"),
    ({}, "field 'config_version' must be 1"),
    (["a", "list"], "expected a mapping of sections, got list"),
])
def test_errors_name_the_section_and_field(raw, expected):
    with pytest.raises(ConfigError) as err:
        parse_config(raw, source="my.yaml")
    assert expected in str(err.value)
    assert str(err.value).startswith("my.yaml")


def test_every_problem_is_listed():
    with pytest.raises(ConfigError) as err:
        parse_config({"config_version": 1, "model": {"num_leaves": 1, "seed": -1}})
    text = str(err.value)
    assert "field 'num_leaves'" in text and "field 'seed'" in text


@pytest.mark.parametrize(("text", "expected"), [
    (None, "does not exist"),
    ("model: [", "is not valid YAML"),
])
def test_unreadable_files(tmp_path, text, expected):
    path = tmp_path / "c.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_hash_is_canonical():
    a = parse_config({"config_version": 1, "model": {"seed": 3, "num_leaves": 7}})
    b = parse_config({"model": {"num_leaves": 7, "seed": 3}, "config_version": 1})
    defaults_written = parse_config({"config_version": 1, "model": {"seed": 3, "num_leaves": 7,
                                                                    "learning_rate": 0.05}})
    assert config_hash(a) == config_hash(b) == config_hash(defaults_written)
    assert len(config_hash(a)) == 64
    c = parse_config({"config_version": 1, "model": {"seed": 4, "num_leaves": 7}})
    assert config_hash(c) != config_hash(a)


def test_table_source_and_paths(tmp_path):
    cfg = parse_config({"config_version": 1, "data": {
        "source": "table", "table": "t.csv", "catalog": "c.yaml", "label": "Target <= 2",
        "group_columns": ["region"]}, "gate": {"attributes": ["region"]}})
    assert resolve(cfg.data.table, tmp_path) == tmp_path / "t.csv"
    assert resolve(Path("/abs/t.csv"), tmp_path) == Path("/abs/t.csv")
    assert resolve(None, tmp_path) is None
    params = flat_params(cfg)
    assert params["data.label"] == "Target <= 2"
    assert params["data.group_columns"] == '["region"]'
    assert params["config_version"] == "1"
