"""Exploration: a declared share of each street's visits goes to a random sample of households
the ranking did not choose, stratified by band, with every visit's propensity recorded.

Allocation by rank is deterministic: a household inside capacity is visited with probability 1,
one outside with probability 0, so labels come only from the top of the ranking and no weight
can make them describe the district (Lakkaraju et al., "The Selective Labels Problem", KDD
2017). A small randomised share gives every eligible household a known, positive chance of a
label (Kilbertus et al., "Fair Decisions Despite Imperfect Predictions", AISTATS 2020); random
spot checks (抽查) are already part of assistance administration.

Design: ``round(share x visits)`` of the district's visits (spread over the streets in
proportion to their visits, so a small district still explores) are taken from the ranked
allocation and
spread as evenly as possible over the bands present among the street's eligible households
(more labels near the cut points than proportional sampling would give); within a (street,
band) stratum households are drawn uniformly without replacement, so the propensity of an
explored household is ``drawn / eligible`` of its stratum. Visits chosen by rank carry
propensity 1. Population calibration (:mod:`assist.pipelines.population`) fits its map on
these labels: chosen on the scores alone, they need no weights, but without exploration they
would never reach the low scores; the propensities stay on record for estimates that must
represent the district (totals, prevalence).
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

#: how a visit was chosen (the snapshot's ``selection`` column; "" = not visited)
RANK, PINNED, EXPLORATION = "rank", "pinned", "exploration"


def explore_counts(visits: dict[str, int], share: float, *, seed: str = "") -> dict[str, int]:
    """Visits of each street given to exploration: ``round(share x all visits)`` for the
    district (halves up), spread over the streets in proportion to their visits (largest
    remainders first, ties in a seeded order), never more than a street's visits."""
    total = int(np.floor(share * sum(visits.values()) + 0.5))
    streets = sorted(visits)
    if total == 0 or not streets:
        return dict.fromkeys(streets, 0)
    exact = np.array([share * visits[s] for s in streets])
    base = np.minimum(np.floor(exact).astype(int), [visits[s] for s in streets])
    rng = np.random.default_rng(zlib.crc32(f"streets/{seed}".encode()))
    order = np.lexsort((rng.random(len(streets)), -(exact - base)))
    left = total - int(base.sum())
    for i in order:
        if left <= 0:
            break
        if base[i] < visits[streets[i]]:
            base[i] += 1
            left -= 1
    return {s: int(n) for s, n in zip(streets, base, strict=True)}


def _spread(n: int, sizes: pd.Series) -> pd.Series:
    """``n`` draws over strata of ``sizes`` as evenly as possible, never more than a stratum
    holds (leftovers go to the strata with room, largest first)."""
    take = pd.Series(0, index=sizes.index)
    room = sizes.copy()
    while n > 0 and (room > 0).any():
        open_ = room[room > 0].sort_values(ascending=False, kind="stable")
        each = max(n // len(open_), 1)
        for s in open_.index:
            k = int(min(each, room[s], n))
            take[s] += k
            room[s] -= k
            n -= k
            if n == 0:
                break
    return take


def explore(*, band: pd.Series, street: pd.Series, eligible: pd.Series,
            counts: dict[str, int], seed: str) -> pd.Series:
    """Propensity of each explored household (index: the explored households).

    ``eligible`` marks the households that may be explored (not chosen by rank, not pinned,
    not suppressed by an earlier decision); ``counts`` is each street's exploration visits;
    ``seed`` (e.g. the month) makes the draw reproducible.
    """
    rng = np.random.default_rng(zlib.crc32(seed.encode()))
    pool = pd.DataFrame({"street": street.astype(str), "band": band.astype(str)})[
        eligible.reindex(band.index, fill_value=False).to_numpy()]
    pool = pool.sort_index()
    drawn: list[pd.Series] = []
    for s, frame in pool.groupby("street", sort=True):
        n = counts.get(str(s), 0)
        if n <= 0:
            continue
        sizes = frame.groupby("band", sort=True).size()
        for b, k in _spread(n, sizes).items():
            if k <= 0:
                continue
            members = frame.index[(frame["band"] == b).to_numpy()]
            pick = rng.choice(len(members), size=int(k), replace=False)
            drawn.append(pd.Series(float(k) / len(members), index=members[np.sort(pick)]))
    if not drawn:
        return pd.Series(dtype=float, name="propensity")
    out = pd.concat(drawn)
    out.name = "propensity"
    return out
