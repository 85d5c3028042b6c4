"""Public services of one month: 12345 appeals, caseworker visits, and assistance grants.

Visits carry the selection bias of real practice: a household is only verified when it
applies (needy, local and already-known households apply more; non-local households and lone
elderly people less), is referred by its community or after a hardship appeal, or is already
assisted and routinely reviewed. What the caseworker records is the only label the need
model ever sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assist.features import codes
from assist.simulate import calibration as cal
from assist.simulate.need import C, Household, Need
from assist.simulate.state import NAT, PROG, Calendar, Grants, Households, IdKeys

_CAUSE_PROGRAMME = np.array([PROG[p] for p in (
    "medical", "charity", "employment", "education", "housing", "expenditure", "charity",
    "temporary")])  # in CAUSES order
APPLICATION, REFERRAL, REVIEW = range(3)
CONFIRMED, NOT_IN_NEED, UNREACHABLE, DECLINED = range(4)


@dataclass(frozen=True)
class Appeals:
    """12345 hotline appeals of the month."""

    seq: np.ndarray
    hh: np.ndarray
    category: np.ndarray
    date: np.ndarray


@dataclass(frozen=True)
class Visits:
    """Caseworker home visits of the month."""

    seq: np.ndarray
    hh: np.ndarray
    trigger: np.ndarray
    outcome: np.ndarray
    date: np.ndarray
    caseworker: np.ndarray


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


def appeals(rng: np.random.Generator, h: Households, a: Household, need: Need, cal_: Calendar,
            keys: IdKeys) -> Appeals:
    """Appeals to the 12345 hotline, by category; remembers this month's hardship appeals."""
    n = len(h)
    needy = need.in_need()
    p = np.column_stack([
        0.0003 + 0.02 * needy * np.where(a.non_local, 0.5, 1.0) * np.where(a.lone_elderly, 0.5, 1)
        + 0.004 * _sigmoid(need.score / 0.3),
        0.001 + 0.01 * (need.contributions[:, C["housing"]] > 0.2),
        0.001 + 0.01 * (a.admitted | a.any_major),
        0.0008 + 0.015 * (a.registered_unemployed > 0),
        0.0015 + 0.01 * (h.arrears > 0),
        np.full(n, 0.004),
    ]) * h.exists[:, None]
    hh, category = np.nonzero(rng.random(p.shape) < p)
    h.hardship_appeal = np.zeros(n, bool)
    h.hardship_appeal[hh[category == 0]] = True
    lo, hi = cal_.window("hotline_appeals")
    span = int((hi - lo).astype(int)) + 1
    date = lo + rng.integers(0, span, len(hh)).astype("timedelta64[D]")
    return Appeals(seq=keys.next("appeal", len(hh)), hh=hh.astype(np.int64),
                   category=category.astype(np.int8), date=date)


def ongoing(g: Grants, n: int, day: np.datetime64) -> np.ndarray:
    """Households with a continuing (not one-off, not ended) grant on ``day``."""
    out = np.zeros(n, bool)
    active = (g.start <= day) & np.isnat(g.end)
    out[g.hh[active]] = True
    return out


def in_snapshot(g: Grants, cal_: Calendar) -> np.ndarray:
    """Grants that appear in this month's extract: started, and not ended before the month."""
    return (g.start <= cal_.as_of("assistance")) & (np.isnat(g.end) | (g.end >= cal_.start))


def _programmes(rng: np.random.Generator, hh: np.ndarray, h: Households, a: Household,
                need: Need, line: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Main and second programme (-1: none), and one-off temporary aid, for households ``hh``."""
    m = len(hh)
    res = need.resources_pc[hh]
    primary = need.primary()[hh]
    c = need.contributions[hh]
    lone_poor = a.lone_elderly[hh] & (a.income[hh] < line) & ~h.family_support[hh]
    main = np.select(
        [lone_poor, res < line, (res < 2 * line) & (primary == C["expenditure"]), res < 2 * line],
        [PROG["tekun"], PROG["dibao"], PROG["expenditure"], PROG["low_income"]],
        default=_CAUSE_PROGRAMME[primary],
    )
    u = rng.random(m)
    basic = np.isin(main, [PROG["dibao"], PROG["low_income"], PROG["tekun"]])
    second = np.select(
        [(c[:, C["illness"]] > 0.2) & (main != PROG["medical"]) & (u < 0.6),
         (a.children_enrolled[hh] > 0) & basic & (u < 0.5),
         (a.registered_unemployed[hh] > 0) & (main != PROG["employment"]) & (u < 0.5),
         (c[:, C["housing"]] > 0.3) & (main != PROG["housing"]) & (u < 0.5)],
        [PROG["medical"], PROG["education"], PROG["employment"], PROG["housing"]],
        default=-1,
    )
    sudden = a.admitted[hh] | (c[:, C["income_loss"]] > 0.3)
    one_off = sudden & (main != PROG["temporary"]) & (rng.random(m) < 0.4)
    return main.astype(np.int8), second.astype(np.int8), one_off


def _amounts(rng: np.random.Generator, programme: np.ndarray, hh: np.ndarray, h: Households,
             a: Household, line: float) -> np.ndarray:
    m = len(hh)
    size = np.maximum(a.size[hh], 1)
    u = rng.uniform(0.8, 1.2, m)
    amount = np.select(
        [programme == PROG[k] for k in codes.PROGRAMMES],
        [np.clip(line * size - a.income[hh], 100 * size, line * size),     # dibao: the gap
         300.0 * size * u,                                                 # low_income
         line * 1.5 + rng.uniform(0, 300, m),                              # tekun
         np.clip(0.5 * (h.oop_avg[hh] + a.education[hh]), 500, 3000),      # expenditure
         np.clip(0.5 * h.oop_avg[hh], 200, 8000),                          # medical
         600.0 * np.maximum(a.children_enrolled[hh], 1) * u,               # education
         rng.uniform(600, 1200, m),                                        # employment
         np.where(h.rent[hh] > 0, np.clip(0.3 * h.rent[hh], 300, 2000), 800.0),  # housing
         rng.uniform(1000, 6000, m),                                       # temporary
         rng.uniform(200, 2000, m)],                                       # charity
    )
    return np.round(amount / 10) * 10


def grant(rng: np.random.Generator, hh: np.ndarray, h: Households, a: Household, need: Need,
          line: float, start: np.ndarray, keys: IdKeys) -> Grants:
    """New grants for households ``hh`` from ``start`` (one-off temporary aid ends that month)."""
    main, second, one_off = _programmes(rng, hh, h, a, need, line)
    has2 = second >= 0
    all_hh = np.concatenate([hh, hh[has2], hh[one_off]])
    programme = np.concatenate([main, second[has2],
                                np.full(int(one_off.sum()), PROG["temporary"], np.int8)])
    starts = np.concatenate([start, start[has2], start[one_off]])
    month_end = (starts.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
    end = np.where(programme == PROG["temporary"], month_end, NAT)
    order = np.argsort(all_hh, kind="stable")
    all_hh, programme, starts, end = all_hh[order], programme[order], starts[order], end[order]
    return Grants(gid=keys.next("grant", len(all_hh)), hh=all_hh.astype(np.int64),
                  programme=programme, amount=_amounts(rng, programme, all_hh, h, a, line),
                  start=starts, end=end)


def initial_grants(rng: np.random.Generator, h: Households, a: Household, need: Need,
                   cal_: Calendar, line: float, keys: IdKeys) -> Grants:
    """Assistance granted before the first month, with exclusion and inclusion errors.

    Mostly needy households (known and local ones more often), plus households just below the
    need threshold (inclusion errors).
    """
    n = len(h)
    target = cal.ASSISTED_RATE * h.exists.sum()
    needy = need.in_need()
    f = np.where(a.non_local, 0.35, 1.0) * np.where(a.lone_elderly, 0.8, 1.0) \
        * np.where(h.known, 1.3, 1.0) * needy
    p_needy = np.minimum(1.0, f * (1 - cal.INCLUSION_ERROR_SHARE) * target / max(f.sum(), 1e-9))
    w = np.where(needy | ~h.exists, 0.0, np.exp(np.clip(4 * need.score, -50, 0)))
    p_other = np.minimum(1.0, w * cal.INCLUSION_ERROR_SHARE * target / max(w.sum(), 1e-9))
    chosen = np.flatnonzero(rng.random(n) < p_needy + p_other)
    months_ago = rng.integers(1, 97, len(chosen))
    start = (cal_.start.astype("datetime64[M]") - months_ago).astype("datetime64[D]")
    g = grant(rng, chosen, h, a, need, line, start, keys)
    g.keep(g.programme != PROG["temporary"])  # one-off aid granted before is long past
    return g


def visits(rng: np.random.Generator, h: Households, a: Household, need: Need, g: Grants,
           cal_: Calendar, keys: IdKeys) -> Visits:
    """Applications, referrals and routine reviews visited this month, with their outcomes."""
    n = len(h)
    assisted = ongoing(g, n, cal_.start)
    pull = _sigmoid(need.score / 0.2)
    factor = np.where(a.non_local, cal.APPLY_FACTOR["non_local"], 1.0) \
        * np.where(a.lone_elderly, cal.APPLY_FACTOR["lone_elderly"], 1.0) \
        * np.where(h.known, cal.APPLY_FACTOR["known"], 1.0) \
        * np.where(h.hardship_appeal, 2.0, 1.0) * np.where(a.admitted, 1.5, 1.0)
    u = rng.random((3, n))
    free = h.exists & ~assisted
    apply = free & (u[0] < cal.APPLY_RATE * pull * factor + 0.0003)
    # communities refer the households they know, lone elderly people less (they seldom ask)
    known = h.known * np.where(a.lone_elderly, 0.4, 1.0)
    refer = free & ~apply & (u[1] < 0.012 * known * pull + 0.4 * h.hardship_appeal + 0.0001)
    review = h.exists & assisted & (u[2] < 1 / cal.REVIEW_EVERY_MONTHS)
    trigger = np.select([apply, refer, review], [APPLICATION, REFERRAL, REVIEW], default=-1)
    hh = np.flatnonzero(trigger >= 0)
    trigger = trigger[hh]
    needy = need.in_need()[hh]
    probs = np.where(needy[:, None], np.array(cal.OUTCOME_IF_NEEDY),
                     np.array(cal.OUTCOME_IF_NOT_NEEDY))
    shift = np.where(a.non_local[hh], 0.06, 0.0)
    probs[:, UNREACHABLE] += shift
    probs[np.arange(len(hh)), np.where(needy, CONFIRMED, NOT_IN_NEED)] -= shift
    probs[:, DECLINED] += np.where(a.lone_elderly[hh], 0.04, 0.0)
    probs[np.arange(len(hh)), np.where(needy, CONFIRMED, NOT_IN_NEED)] -= \
        np.where(a.lone_elderly[hh], 0.04, 0.0)
    cum = np.cumsum(probs, axis=1)
    outcome = np.minimum((rng.random(len(hh))[:, None] >= cum).sum(axis=1), 3)
    lo, hi = cal_.window("verifications")
    date = lo + rng.integers(0, int((hi - lo).astype(int)) + 1, len(hh)).astype("timedelta64[D]")
    return Visits(seq=keys.next("verification", len(hh)), hh=hh.astype(np.int64),
                  trigger=trigger.astype(np.int8), outcome=outcome.astype(np.int8), date=date,
                  caseworker=rng.integers(1, cal.CASEWORKERS_PER_STREET + 1, len(hh)))


def decide(rng: np.random.Generator, h: Households, a: Household, need: Need, v: Visits,
           g: Grants, cal_: Calendar, line: float, keys: IdKeys, gone: np.ndarray) -> None:
    """Act on the month's visits: grant confirmed new cases, end grants found not needed.

    Confirmed new cases get grants from next month; a review finding no need, or a household
    that ceased to exist, ends its grants this month.
    """
    n = len(h)
    stop = np.zeros(n, bool)
    stop[v.hh[(v.trigger == REVIEW) & (v.outcome == NOT_IN_NEED)]] = True
    stop |= gone
    ending = stop[g.hh] & np.isnat(g.end) & (g.start <= cal_.end)
    g.end[ending] = cal_.end
    new = v.hh[(v.trigger != REVIEW) & (v.outcome == CONFIRMED) & ~gone[v.hh]]
    start = np.full(len(new), cal_.end + 1)
    g.append(grant(rng, new, h, a, need, line, start, keys))


def relief(g: Grants, n: int, cal_: Calendar, since: np.datetime64) -> np.ndarray:
    """Reduction of each household's need score this month by its grants that started after
    ``since`` (:data:`~assist.simulate.calibration.GRANT_EFFECT`: size and delay)."""
    out = np.zeros(n)
    if not len(g.hh):
        return out
    size = np.array([cal.GRANT_EFFECT[p][0] for p in codes.PROGRAMMES])[g.programme]
    delay = np.array([cal.GRANT_EFFECT[p][1] for p in codes.PROGRAMMES])[g.programme]
    felt_from = (g.start.astype("datetime64[M]") + delay).astype("datetime64[D]")
    active = (g.start > since) & (felt_from <= cal_.start) \
        & (np.isnat(g.end) | (g.end >= cal_.start))
    np.add.at(out, g.hh[active], size[active])
    return out


def outreach(rng: np.random.Generator, hh: np.ndarray, h: Households, a: Household,
             need: Need, cal_: Calendar, keys: IdKeys) -> Visits:
    """The visits the system allocated (households ``hh``), with what the caseworker finds:
    drawn from the hidden truth with the calibrated error rates of every visit
    (:data:`~assist.simulate.calibration.OUTCOME_IF_NEEDY` / ``_NOT_NEEDY``: confirmed,
    not in need, unreachable, declined), non-local households harder to reach and lone
    elderly people declining more, as for the district's own visits."""
    hh = np.asarray(hh, dtype=np.int64)
    needy = need.in_need()[hh]
    probs = np.where(needy[:, None], np.array(cal.OUTCOME_IF_NEEDY),
                     np.array(cal.OUTCOME_IF_NOT_NEEDY))
    found = np.where(needy, CONFIRMED, NOT_IN_NEED)
    rows = np.arange(len(hh))
    for flag, col, shift in ((a.non_local, UNREACHABLE, 0.06), (a.lone_elderly, DECLINED, 0.04)):
        moved = np.where(flag[hh], shift, 0.0)
        probs[:, col] += moved
        probs[rows, found] -= moved
    cum = np.cumsum(probs, axis=1)
    outcome = np.minimum((rng.random(len(hh))[:, None] >= cum).sum(axis=1), 3)
    lo, hi = cal_.window("verifications")
    date = lo + rng.integers(0, int((hi - lo).astype(int)) + 1, len(hh)).astype("timedelta64[D]")
    return Visits(seq=keys.next("verification", len(hh)), hh=hh,
                  trigger=np.full(len(hh), REFERRAL, np.int8), outcome=outcome.astype(np.int8),
                  date=date, caseworker=rng.integers(1, cal.CASEWORKERS_PER_STREET + 1, len(hh)))


def join(a: Visits, b: Visits) -> Visits:
    """The visits of ``a`` then ``b``."""
    return Visits(**{f: np.concatenate([getattr(a, f), getattr(b, f)])
                     for f in ("seq", "hh", "trigger", "outcome", "date", "caseworker")})


def prune(g: Grants, cal_: Calendar) -> None:
    """Forget grants that ended by the end of this month (they were reported this month)."""
    g.keep(np.isnat(g.end) | (g.end > cal_.end))
