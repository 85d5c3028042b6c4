"""The stepping simulator: same bytes as the batch simulator without outreach; outreach
visits found from the hidden truth and granted; grants lower need after their delay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assist.errors import InputError
from assist.features import schemas
from assist.simulate import simulate, step


def _bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for name in schemas.TABLES for p in sorted((folder / name).glob("*.parquet"))}


def test_stepping_without_outreach_writes_what_the_batch_simulator_writes(tmp_path: Path) -> None:
    simulate(households=400, months=3, seed=5, end_month="2026-03", out=tmp_path / "a",
             truth_out=tmp_path / "ta")
    step.begin(households=400, seed=5, first_month="2026-01", state=tmp_path / "s")
    for _ in range(3):
        step.advance(state=tmp_path / "s", out=tmp_path / "b", truth_out=tmp_path / "tb")
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    a = pd.read_parquet(tmp_path / "ta" / "need.parquet")
    b = pd.read_parquet(tmp_path / "tb" / "need.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_outreach_is_found_from_the_truth_granted_and_deterministic(tmp_path: Path) -> None:
    results = []
    for run in ("x", "y"):
        step.begin(households=3000, seed=9, first_month="2026-01", state=tmp_path / run)
        first = step.advance(state=tmp_path / run, out=tmp_path / f"o{run}",
                             truth_out=tmp_path / f"t{run}")
        needy = first.truth.index[first.truth["true_need"].to_numpy()][:60].tolist()
        calm = first.truth.index[~first.truth["true_need"].to_numpy()][:60].tolist()
        results.append((step.advance(state=tmp_path / run, out=tmp_path / f"o{run}",
                                     truth_out=tmp_path / f"t{run}", outreach=needy + calm),
                        needy, calm))
    (a, needy, calm), (b, _, _) = results
    pd.testing.assert_frame_equal(a.visits, b.visits)
    assert a.granted == b.granted
    found = a.visits[a.visits["outreach"]].set_index("household_id")["outcome"]
    assert len(found) == 120
    in_need = a.truth["true_need"].reindex(found.index)
    confirmed = found == "confirmed"
    # the calibrated error rates: most needy households confirmed, few of the others
    assert confirmed[in_need].mean() > 0.6
    assert confirmed[~in_need].mean() < 0.25
    assert set(a.granted) <= set(found.index[confirmed])
    assert len(a.granted) >= 0.8 * confirmed.sum()


def test_grants_lower_need_after_their_delay(tmp_path: Path) -> None:
    """The same district with and without outreach: the granted households' need scores
    fall by the declared effect in the months after (the rest of the district is untouched)."""
    runs = {}
    for name, reach in (("with", True), ("without", False)):
        step.begin(households=3000, seed=11, first_month="2026-01", state=tmp_path / name)
        first = step.advance(state=tmp_path / name, out=tmp_path / f"o{name}",
                             truth_out=tmp_path / f"t{name}")
        needy = first.truth.index[first.truth["true_need"].to_numpy()][:80].tolist()
        second = step.advance(state=tmp_path / name, out=tmp_path / f"o{name}",
                              truth_out=tmp_path / f"t{name}", outreach=needy if reach else None)
        # granted from the first day of month 3, felt from month 4 (delay 1 for most)
        for _ in range(2):
            later = step.advance(state=tmp_path / name, out=tmp_path / f"o{name}",
                                 truth_out=tmp_path / f"t{name}")
        runs[name] = (second, later)
    granted = list(runs["with"][0].granted)
    assert granted
    drop = (runs["without"][1].truth["need_score"] - runs["with"][1].truth["need_score"])
    assert (drop.reindex(granted) >= 0.15 - 1e-9).mean() > 0.9
    others = drop.drop(index=granted)
    assert np.abs(others).max() < 1e-9
    # the truth says what the grants took off: without them the need would be the same
    later = runs["with"][1].truth
    without = runs["without"][1].truth
    assert np.allclose(later["need_score"] + later["relief"],
                       without["need_score"] + without["relief"])
    assert (later["relief"].reindex(granted) > 0).mean() > 0.9


def test_outreach_of_an_unknown_household_is_a_one_line_error(tmp_path: Path) -> None:
    step.begin(households=50, seed=1, first_month="2026-01", state=tmp_path / "s")
    with pytest.raises(InputError, match="does not have"):
        step.advance(state=tmp_path / "s", out=tmp_path / "o", truth_out=tmp_path / "t",
                     outreach=["nobody"])
    with pytest.raises(InputError, match="no saved simulator state"):
        step.load(tmp_path / "nothing")
