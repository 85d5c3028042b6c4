"""Calibration figures of a simulation, computed from the hidden truth month by month."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from assist.simulate.records import Month
from assist.simulate.services import APPLICATION, CONFIRMED, REFERRAL


@dataclass
class Metrics:
    """Accumulates per-month figures and run-wide counts."""

    by_snapshot: dict[str, dict[str, float]] = field(default_factory=dict)
    visited: set[int] = field(default_factory=set)
    counts: dict[str, float] = field(default_factory=dict)
    previous_need: np.ndarray | None = None

    def _count(self, key: str, value: float) -> None:
        self.counts[key] = self.counts.get(key, 0.0) + float(value)

    def add(self, m: Month) -> None:
        """Record the figures of month ``m``."""
        h, p, a = m.h, m.p, m.agg
        ex = h.exists
        n = int(ex.sum())
        listed = p.alive
        needy = m.need.in_need()
        assisted = np.zeros(len(h), bool)
        assisted[m.grants.hh] = True
        n_needy, n_assisted = int((needy & ex).sum()), int((assisted & ex).sum())
        size = np.maximum(a.size, 1)
        fig = {
            "households": float(n),
            "mean_household_size": float(listed.sum() / max(n, 1)),
            "share_aged_60_plus": float((m.ev.age[listed] >= 60).mean()),
            "share_lone_elderly": float(a.lone_elderly[ex].mean()),
            "share_non_local": float(a.non_local[ex].mean()),
            "median_income_per_capita": float(np.median((a.income / size)[ex])),
            "true_need_rate": n_needy / max(n, 1),
            "assisted_rate": n_assisted / max(n, 1),
            "inclusion_error_share": float((assisted & ~needy & ex).sum() / max(n_assisted, 1)),
            "exclusion_error_share": float((needy & ~assisted & ex).sum() / max(n_needy, 1)),
        }
        if self.previous_need is not None:
            both = ex & self.previous_exists
            fig["need_changed_share"] = float((needy != self.previous_need)[both].mean())
        self.previous_need, self.previous_exists = needy.copy(), ex.copy()
        self.by_snapshot[m.cal.snapshot] = fig

        v = m.visits
        self.visited.update(v.hh.tolist())
        v_needy = needy[v.hh]
        confirmed = v.outcome == CONFIRMED
        self._count("visits_needy", v_needy.sum())
        self._count("confirmed_needy", (confirmed & v_needy).sum())
        self._count("visits_not_needy", (~v_needy).sum())
        self._count("confirmed_not_needy", (confirmed & ~v_needy).sum())
        sought = np.zeros(len(h), bool)
        sought[v.hh[(v.trigger == APPLICATION) | (v.trigger == REFERRAL)]] = True
        pool = needy & ex & ~assisted
        for group, mask in (("local", ~a.non_local), ("non_local", a.non_local),
                            ("lone_elderly", a.lone_elderly)):
            self._count(f"needy_{group}", (pool & mask).sum())
            self._count(f"sought_{group}", (pool & mask & sought).sum())

    def figures(self) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        """Run-wide figures (means over snapshots, counts over the run) and per-month figures."""
        keys = {k for f in self.by_snapshot.values() for k in f}
        out = {k: float(np.mean([f[k] for f in self.by_snapshot.values() if k in f]))
               for k in sorted(keys)}
        c = self.counts
        out["verified_households"] = float(len(self.visited))
        out["confirmed_rate_needy"] = c.get("confirmed_needy", 0) / max(c.get("visits_needy", 0), 1)
        out["confirmed_rate_not_needy"] = (c.get("confirmed_not_needy", 0)
                                           / max(c.get("visits_not_needy", 0), 1))
        for g in ("local", "non_local", "lone_elderly"):
            out[f"visit_rate_needy_{g}"] = c.get(f"sought_{g}", 0) / max(c.get(f"needy_{g}", 0), 1)
        return out, self.by_snapshot
