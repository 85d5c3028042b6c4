"""Decisions carried forward, then the month's allocation: rank, pins and exploration.

Shared by the three scoring engines (pandas :mod:`assist.pipelines.score`, flat tables
:mod:`assist.pipelines.score_table`, Spark :mod:`assist.pipelines.spark.score`), so a visit is
chosen the same way whichever engine scored the month. ``allocation.rank_by`` says what ranks
(the model's probability, the deprivation score, or a seeded random order: the baselines of
``assist simulate-loop``); ``exploration.share`` of each street's visits goes to a random,
band-stratified sample (:mod:`assist.models.exploration`), and every visit's ``selection`` and
``propensity`` are snapshot columns.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assist.models import exploration, matching, parity
from assist.models.allocation import Allocation, Capacities, StreetCapacity, allocate
from assist.models.carry import QUIET, Carry, carry_forward, pin
from assist.pipelines.score_config import ScoringConfig
from assist.storage.casebook import DECISION_COLUMNS, read_decisions

#: the carried-forward columns of the scores and referrals (see :mod:`assist.models.carry`)
CARRY_COLUMNS = ("last_outcome", "last_decision_date", "listing", "listing_zh", "listing_en",
                 "selection", "propensity")


@dataclass(frozen=True, eq=False)
class Carried:
    """The month's allocation with decisions carried forward."""

    carry: Carry
    #: the match with programmes already granted no longer referable
    match: matching.Match
    #: the solver's choice plus the pinned households kept allocated
    alloc: Allocation
    #: households listed whatever the allocation (pinned beyond capacity, reviews due)
    listed: pd.Index
    summary: dict[str, Any]
    #: propensity of each exploration visit (index: the explored households)
    explored: pd.Series
    #: pinned households kept allocated
    pinned: pd.Index

    def listing(self, flags: pd.DataFrame | None) -> pd.Index:
        """The month's list: candidates, households listed whatever the allocation, and those
        with an early-warning flag — unless a decision keeps them off the list (found not in
        need or retries exhausted within the rules' time, contested)."""
        flagged = (flags.index[flags["warning"].to_numpy(dtype=bool)] if flags is not None
                   else pd.Index([]))
        quiet = self.carry.status["listing"].isin(QUIET)
        flagged = flagged.difference(self.carry.status.index[quiet.to_numpy()])
        return self.alloc.visit.index.union(flagged).union(self.listed)


def read_carried_decisions(path: Path | None) -> tuple[pd.DataFrame, str]:
    """The decisions snapshot at ``path`` and a note of where it came from (none: empty)."""
    if path is None or not Path(path).is_file():
        where = "no path given" if path is None else f"no file at {path}"
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in DECISION_COLUMNS})
        return empty, f"none ({where}): every household listed as new"
    frame = read_decisions(Path(path))
    return frame, f"{path} ({len(frame)} decisions)"


def rank_key(scores: pd.DataFrame, config: ScoringConfig, as_of: str) -> pd.Series:
    """What allocation ranks by (``allocation.rank_by``): the probability, the deprivation
    score, or a random order seeded by the month (the baselines of ``assist simulate-loop``)."""
    by = config.allocation.rank_by
    if by == "random":
        rng = np.random.default_rng(zlib.crc32(f"rank/{as_of}".encode()))
        return pd.Series(rng.random(len(scores)), index=scores.index, name="probability")
    return scores[by].astype(float).rename("probability")


def _exploration_counts(config: ScoringConfig, streets: pd.Series, as_of: str) -> dict[str, int]:
    """Each street's exploration visits this month (none when the share is 0)."""
    capacities = config.capacities()
    if config.exploration.share <= 0:
        return {}
    codes = sorted(streets.dropna().astype(str).unique())
    return exploration.explore_counts({s: capacities.street(s).visits for s in codes},
                                      config.exploration.share, seed=as_of)


def _less(capacities: Capacities, explore: dict[str, int]) -> Capacities:
    """``capacities`` with each street's exploration visits taken out of what is left for the
    ranked allocation (pending visits pinned on a street keep their places first)."""
    if not explore:
        return capacities
    left = {}
    for s, e in explore.items():
        c = capacities.street(s)
        v = max(c.visits - e, 0)
        left[s] = StreetCapacity(v, min(c.floor, v))
    return replace(capacities, streets={**capacities.streets, **left})


def _explored(*, scores: pd.DataFrame, candidate: pd.Series, taken: pd.Index,
              counts: dict[str, int], as_of: str) -> pd.Series:
    """Propensities of the month's exploration visits (:mod:`assist.models.exploration`):
    candidates (not suppressed by a decision) that neither rank nor a pin chose."""
    if not counts:
        return pd.Series(dtype=float, name="propensity")
    eligible = candidate.reindex(scores.index, fill_value=False).astype(bool) \
        & ~scores.index.isin(taken)
    return exploration.explore(band=scores["band"], street=scores["street_code"],
                               eligible=eligible, counts=counts, seed=f"explore/{as_of}")


def _parity(*, scores: pd.DataFrame, key: pd.Series, alloc: Allocation, pinned: pd.Index,
            candidate: pd.Series, config: ScoringConfig) -> tuple[Allocation, dict | None]:
    """With ``fairness.recall_parity``: swap visits towards recall parity
    (:func:`assist.models.parity.equalise_recall`); offers follow the households in and out
    (an incoming household is offered nothing: places were solved for the outgoing one)."""
    f = config.fairness
    attributes = [a for a in f.attributes if a in scores.columns]
    if not f.recall_parity or not attributes:
        return alloc, None
    chosen = alloc.visit.reindex(scores.index, fill_value=False)
    rule = parity.ParityRule(tuple(attributes), f.min_ratio, f.max_ratio, f.min_expected)
    visit, report = parity.equalise_recall(
        probability=key, street=scores["street_code"], groups=scores[attributes],
        chosen=chosen, movable=chosen & ~scores.index.isin(pinned),
        eligible=candidate.reindex(scores.index, fill_value=False).astype(bool), rule=rule)
    went = alloc.visit.index[alloc.visit.to_numpy()].difference(visit.index[visit.to_numpy()])
    came = visit.index[visit.to_numpy()].difference(alloc.visit.index[alloc.visit.to_numpy()])
    offers = alloc.offers.copy()
    offers.loc[offers.index.isin(went)] = False
    new = pd.concat([alloc.visit.copy(), pd.Series(False, index=came.difference(alloc.visit.index))])
    new[new.index.isin(went)] = False
    new[new.index.isin(came)] = True
    offers = pd.concat([offers, pd.DataFrame(False, index=new.index.difference(offers.index),
                                             columns=offers.columns)])
    return replace(alloc, visit=new, offers=offers), report


def allocate_carried(*, scores: pd.DataFrame, match: matching.Match,
                     flags: pd.DataFrame | None, decisions: pd.DataFrame, as_of: str,
                     config: ScoringConfig, source: str) -> Carried:
    """Carry decisions forward (:func:`assist.models.carry.carry_forward`), then allocate: the
    suppressed are no candidates, pinned households keep their street's visits first, granted
    programmes are never offered again; a declared share of visits explores (propensities in
    ``Carried.explored``)."""
    households = scores[["band"]]
    if flags is not None:
        households = households.join(flags[["previous_band", "warning"]])
    carry = carry_forward(decisions, as_of=as_of, households=households,
                          rules=config.carry_forward.rules(), codes=list(match.table.codes))
    st = carry.status
    referable = match.referable & ~carry.granted.reindex_like(match.referable).fillna(False)
    m = replace(match, referable=referable)
    capacities = config.capacities()
    explore_n = _exploration_counts(config, scores["street_code"], as_of)
    key = rank_key(scores, config, as_of)
    pinned_ids = st.index[st["pinned"].to_numpy()]
    pinned = (pin(pinned=pinned_ids, probability=key, street=scores["street_code"],
                  referable=referable, capacities=capacities) if len(pinned_ids) else None)
    cand = st["candidate"].to_numpy()
    left = pinned.capacities if pinned else capacities  # what pins left of each street
    explore_n = {k: min(e, left.street(k).visits) for k, e in explore_n.items()}
    alloc = allocate(probability=key[cand], street=scores["street_code"][cand],
                     referable=referable[cand],
                     capacities=_less(left, explore_n),
                     time_limit=config.allocation.time_limit_s)
    if pinned is not None:
        alloc = replace(alloc, visit=pd.concat([pinned.visit, alloc.visit]),
                        offers=pd.concat([pinned.offers, alloc.offers]),
                        candidates=alloc.candidates + len(pinned.visit))
    kept = pinned.visit.index if pinned is not None else pd.Index([])
    listed = pinned_ids.difference(kept).union(st.index[st["listed"].to_numpy()])
    alloc, parity = _parity(scores=scores, key=key, alloc=alloc, pinned=pinned_ids,
                            candidate=st["candidate"], config=config)
    explored = _explored(scores=scores, candidate=st["candidate"], counts=explore_n, as_of=as_of,
                         taken=alloc.visit.index[alloc.visit.to_numpy()].union(pinned_ids))
    outside = explored.index.difference(alloc.visit.index)  # beyond the solver's candidates
    alloc = replace(alloc, visit=pd.concat([alloc.visit | alloc.visit.index.isin(explored.index),
                                            pd.Series(True, index=outside)]),
                    offers=pd.concat([alloc.offers, pd.DataFrame(
                        False, index=outside, columns=alloc.offers.columns)]))
    summary = {"decisions": source, "households_decided": int(st["last_outcome"].notna().sum()),
               "listings": {k: v for k, v in carry.counts().items() if k != "new"},
               "pinned_allocated": int(len(kept)),
               "pinned_beyond_capacity": int(len(pinned_ids) - len(kept)),
               "granted_not_offered": int((match.referable & ~referable).to_numpy().sum()),
               "rank_by": config.allocation.rank_by, "explored": int(len(explored)),
               "recall_parity": parity}
    return Carried(carry=carry, match=m, alloc=alloc, listed=listed, summary=summary,
                   explored=explored, pinned=kept)


def selection_columns(scores: pd.DataFrame, carried: Carried) -> pd.DataFrame:
    """How each visit was chosen (``selection``: rank, pinned, exploration, "" = no visit) and
    its propensity (1 for rank and pinned visits; the stratum's sampling rate when explored)."""
    alloc = carried.alloc
    chosen = alloc.visit.index[alloc.visit.to_numpy()]
    selection = pd.Series("", index=scores.index, name="selection", dtype=object)
    selection[scores.index.isin(chosen)] = exploration.RANK  # explored ones relabelled below
    selection[scores.index.isin(carried.pinned)] = exploration.PINNED
    selection[carried.explored.index] = exploration.EXPLORATION
    propensity = pd.Series(np.where(selection != "", 1.0, np.nan), index=scores.index,
                           name="propensity")
    propensity[carried.explored.index] = carried.explored.to_numpy()
    return pd.concat([selection, propensity], axis=1)


def carry_columns(carried: Carried) -> pd.DataFrame:
    """The carried-forward columns of the snapshot (text; missing: no decision), and how each
    visit was chosen with its propensity (:func:`selection_columns`)."""
    carry = carried.carry.status[list(CARRY_COLUMNS[:-2])].astype("string")
    return carry.join(selection_columns(carry, carried))
