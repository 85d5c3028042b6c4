"""Revisions of a month's snapshot: another model or config writes r2 and keeps r1 readable,
the same model and config rewrites the present revision, the pointer never moves back, a crash
while keeping or writing leaves a readable month."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from assist.errors import InputError
from assist.storage import snapshot

AS_OF = "2026-10"


def _frames(p: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = pd.Index(["h1", "h2"], name="household_id")
    scores = pd.DataFrame({"street_code": pd.array(["S01", "S02"], dtype="string"),
                           "probability": [p, 0.1], "programmes": [["dibao"], []]}, index=ids)
    return scores, scores.loc[["h1"]].copy()


def _write(d, *, model="m/1", cfg="abc", p=0.9, as_of=AS_OF):
    scores, referrals = _frames(p)
    return snapshot.write_snapshot(d, as_of, scores=scores, referrals=referrals,
                                   summary={"as_of": as_of, "model_version": model,
                                            "config_hash": cfg},
                                   model_version=model, config_hash=cfg)


def _pointer(d) -> dict:
    return json.loads((d / snapshot.CURRENT_FILE).read_text(encoding="utf-8"))


@pytest.mark.parametrize(("model", "cfg"), [("m/2", "abc"), ("m/1", "def")])
def test_another_model_or_config_writes_a_new_revision_and_keeps_the_old(tmp_path, model, cfg):
    _write(tmp_path)
    assert snapshot.scored_with(tmp_path, AS_OF, model_version="m/1", config_hash="abc")
    assert snapshot.scored_with(tmp_path, AS_OF, model_version=model, config_hash=cfg) is None
    _write(tmp_path, model=model, cfg=cfg, p=0.5)
    assert snapshot.revisions(tmp_path, AS_OF) == ["r1", "r2"]
    now = snapshot.read_snapshot(tmp_path)
    assert now.summary["revision"] == "r2" and now.scores["probability"].iloc[0] == 0.5
    assert _pointer(tmp_path) | {"folder": ""} == {
        "as_of": AS_OF, "folder": "", "model_version": model, "config_hash": cfg,
        "revision": "r2"}
    old = snapshot.read_snapshot(tmp_path, AS_OF, revision="r1")
    assert old.folder == tmp_path / "revisions" / AS_OF / "r1"
    assert old.summary["model_version"] == "m/1" and old.summary["revision"] == "r1"
    assert old.scores["probability"].iloc[0] == 0.9
    assert old.referrals["programmes"].tolist() == [["dibao"]]
    assert snapshot.months(tmp_path) == [AS_OF]          # kept revisions are not months
    _write(tmp_path, model="m/3", cfg=cfg, p=0.4)        # and a third: r1 and r2 kept
    assert snapshot.revisions(tmp_path, AS_OF) == ["r1", "r2", "r3"]
    assert snapshot.read_snapshot(tmp_path, AS_OF, revision="r2").scores[
        "probability"].iloc[0] == 0.5
    with pytest.raises(InputError, match="no revision r9"):
        snapshot.read_snapshot(tmp_path, AS_OF, revision="r9")


def test_same_model_and_config_rewrites_the_present_revision(tmp_path):
    _write(tmp_path)
    _write(tmp_path, p=0.7)
    assert snapshot.revisions(tmp_path, AS_OF) == ["r1"]
    assert not (tmp_path / snapshot.REVISIONS_DIR).exists()
    assert snapshot.read_snapshot(tmp_path).scores["probability"].iloc[0] == 0.7


def test_a_summary_without_a_revision_is_r1(tmp_path):
    folder = _write(tmp_path)
    summary = json.loads((folder / snapshot.SUMMARY_FILE).read_text(encoding="utf-8"))
    del summary["revision"]
    (folder / snapshot.SUMMARY_FILE).write_text(json.dumps(summary), encoding="utf-8")
    assert snapshot.revision_key(summary) == ("r1", "m/1", "abc")
    _write(tmp_path, model="m/2")
    assert snapshot.revisions(tmp_path, AS_OF) == ["r1", "r2"]


def test_rescoring_an_earlier_month_leaves_the_later_one_current(tmp_path):
    _write(tmp_path, as_of="2026-11")
    _write(tmp_path)
    _write(tmp_path, model="m/2")
    assert snapshot.current(tmp_path) == "2026-11" and _pointer(tmp_path)["model_version"] == "m/1"
    assert snapshot.revisions(tmp_path, AS_OF) == ["r1", "r2"]


def test_a_crash_writing_the_new_revision_leaves_the_old_one_present(tmp_path, monkeypatch):
    _write(tmp_path)

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshot, "write_referrals", crash)
    with pytest.raises(OSError, match="No space left"):
        _write(tmp_path, model="m/2", p=0.5)
    monkeypatch.undo()
    now = snapshot.read_snapshot(tmp_path)            # r1 still present and current ...
    assert now.summary["revision"] == "r1" and _pointer(tmp_path)["revision"] == "r1"
    assert snapshot.revisions(tmp_path, AS_OF) == ["r1"]   # (also kept: the same r1)
    _write(tmp_path, model="m/2", p=0.5)                # ... and the next run finishes
    assert snapshot.revisions(tmp_path, AS_OF) == ["r1", "r2"]
    assert snapshot.read_snapshot(tmp_path, AS_OF, revision="r1").scores[
        "probability"].iloc[0] == 0.9


def test_stamp_revision_for_a_writer_that_could_not(tmp_path):
    _write(tmp_path)
    snapshot.stamp_revision(tmp_path, AS_OF, "r2")
    assert snapshot.read_summary(tmp_path, AS_OF)["revision"] == "r2"
    assert _pointer(tmp_path)["revision"] == "r2"
