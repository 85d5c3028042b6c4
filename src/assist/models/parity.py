"""Recall parity as a remedy: move a few of the month's visits between groups so that every
judged group's expected recall at capacity lies within the gate's bounds of the largest group's.

Rodolfa, Lamba and Ghani ("Empirical observation of negligible fairness–accuracy trade-offs in
machine learning for public policy", Nature Machine Intelligence 2021) show that choosing the
top-k per group so recall is equal costs little precision in resource-constrained public-policy
settings. Here the top-k is a street-capacitated allocation, so parity is reached by swaps
inside a street: the under-served group's most likely household not visited comes in, and the
least likely visit of the street from outside that group goes out (for an over-served group,
the reverse), keeping every street's visits and never touching pinned or exploration visits.

Expected recall of a group is the sum of the calibrated probabilities of its visited
households over the sum for all its households (the expected number in need it holds); a
group whose expected number in need is below ``min_expected`` is not judged. The ratio is
taken against the largest group of the attribute, as the promotion gate does. Swaps stop when
every judged ratio is inside ``[min_ratio, max_ratio]``, when a swap would not improve the
worst ratio, or after as many swaps as there are visits. The report gives the ratios before
and after and the expected precision (mean probability of the visits) it cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ParityRule:
    """Which attributes to balance and the bounds (``fairness`` in ``scoring.yaml``)."""

    attributes: tuple[str, ...]
    min_ratio: float = 0.8
    max_ratio: float = 1.25
    min_expected: float = 5.0


def expected_ratios(p: np.ndarray, chosen: np.ndarray, groups: pd.DataFrame,
                    rule: ParityRule) -> dict[tuple[str, str], float]:
    """Expected recall of each judged group divided by its attribute's largest group's."""
    out: dict[tuple[str, str], float] = {}
    for attr in rule.attributes:
        g = groups[attr].astype("string").fillna("(missing)").to_numpy()
        frame = pd.DataFrame({"g": g, "p": p, "hit": p * chosen})
        per = frame.groupby("g").agg(n=("p", "size"), need=("p", "sum"), hit=("hit", "sum"))
        ref = per["n"].idxmax()
        if per.loc[ref, "hit"] <= 0:
            continue
        base = per.loc[ref, "hit"] / per.loc[ref, "need"]
        for name, r in per[per["need"] >= rule.min_expected].iterrows():
            out[(attr, str(name))] = float(r["hit"] / r["need"] / base)
    return out


def _worst(ratios: dict[tuple[str, str], float], rule: ParityRule) -> tuple[Any, float]:
    """The judged group furthest outside the bounds (in ratio terms) and how far."""
    worst, gap = None, 0.0
    for key, r in ratios.items():
        far = max(rule.min_ratio / r if r > 0 else np.inf, r / rule.max_ratio)
        if far > 1 + 1e-9 and far > gap:
            worst, gap = key, far
    return worst, gap


def _swap(p: np.ndarray, street: np.ndarray, chosen: np.ndarray, movable: np.ndarray,
          eligible: np.ndarray, member: np.ndarray, under: bool) -> tuple[int, int] | None:
    """The best swap for one group: bring in its best household (under-served) or take out its
    weakest visit (over-served), against the weakest / best of the same street outside it."""
    if under:
        ins = np.flatnonzero(eligible & ~chosen & member)
        for i in ins[np.argsort(-p[ins], kind="stable")][:50]:
            outs = np.flatnonzero(movable & chosen & ~member & (street == street[i]))
            if len(outs):
                return int(i), int(outs[np.argmin(p[outs])])
        return None
    outs = np.flatnonzero(movable & chosen & member)
    for o in outs[np.argsort(p[outs], kind="stable")][:50]:
        ins = np.flatnonzero(eligible & ~chosen & ~member & (street == street[o]))
        if len(ins):
            return int(ins[np.argmax(p[ins])]), int(o)
    return None


def equalise_recall(*, probability: pd.Series, street: pd.Series, groups: pd.DataFrame,
                    chosen: pd.Series, movable: pd.Series, eligible: pd.Series,
                    rule: ParityRule) -> tuple[pd.Series, dict[str, Any]]:
    """The visits after swaps towards recall parity, and what they cost (see the module
    docstring). All inputs are indexed by household; ``movable``: visits that may go out
    (chosen by rank), ``eligible``: households that may come in."""
    idx = probability.index
    p = probability.to_numpy(dtype=float)
    st = street.reindex(idx).astype(str).to_numpy()
    ch = chosen.reindex(idx, fill_value=False).to_numpy(dtype=bool).copy()
    mv = movable.reindex(idx, fill_value=False).to_numpy(dtype=bool).copy()
    el = eligible.reindex(idx, fill_value=False).to_numpy(dtype=bool)
    grp = groups.reindex(idx)
    before = expected_ratios(p, ch, grp, rule)
    precision_before = float(p[ch].mean()) if ch.any() else None
    ratios, swaps = before, 0
    for _ in range(int(ch.sum())):
        key, gap = _worst(ratios, rule)
        if key is None:
            break
        member = (grp[key[0]].astype("string").fillna("(missing)") == key[1]).to_numpy()
        move = _swap(p, st, ch, mv, el, member, under=ratios[key] < rule.min_ratio)
        if move is None:
            break
        i, o = move
        ch[i], ch[o], mv[i], mv[o] = True, False, True, False
        after = expected_ratios(p, ch, grp, rule)
        if _worst(after, rule)[1] >= gap:  # no better: undo and stop
            ch[i], ch[o], mv[i], mv[o] = False, True, False, True
            break
        ratios, swaps = after, swaps + 1
    report = {"attributes": list(rule.attributes), "swaps": swaps,
              "ratios_before": _named(before), "ratios_after": _named(ratios),
              "expected_precision_before": precision_before,
              "expected_precision_after": float(p[ch].mean()) if ch.any() else None}
    return pd.Series(ch, index=idx, name="visit"), report


def _named(ratios: dict[tuple[str, str], float]) -> dict[str, float]:
    return {f"{a}={g}": round(r, 4) for (a, g), r in sorted(ratios.items())}


def parity_rule(attributes: Sequence[str], **bounds: float) -> ParityRule:
    """A rule from the config's values."""
    return ParityRule(attributes=tuple(attributes), **bounds)
