"""What coverage counts per household of a month, and from which source.

Two sources hold visits and their findings: the department's verification records (the
validated store's ``verifications`` table: the department's own visits, to applicants among
others) and the case store's decisions (caseworkers' outcomes of this service's referrals).
Grants come from the assistance table (active at the end of the month) and from the decisions
that granted a programme. A household found in both sources counts once:

- visited: a verification record of the month, or a decision on the month's referral;
- confirmed in need: the decision says so, or, without a decision, the verification record
  does (where both hold an outcome, the case store's decision counts: it is the service's own);
- assisted: an active grant in the assistance table, or a programme granted by a decision.

Pure functions of frames (the caller reads the store and the case store).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from assist.models.matching import receiving
from assist.storage.store import MANIFEST_FILE, list_snapshots, load_tables

#: columns of the case store's decisions that coverage reads (one row per decision)
DECISION_COLUMNS = ("household_id", "as_of", "outcome", "programmes_granted")
#: per-household facts of a month: each source apart, then the counted union
SOURCE_FACTS = ("verified_records", "verified_decisions", "confirmed_records",
                "confirmed_decisions", "assisted_records", "assisted_decisions")
#: how the calibration of the snapshot's probabilities describes the district
BASES = ("population", "visited")


def empty_decisions() -> pd.DataFrame:
    """A decisions frame with no row (no case store, or nothing recorded)."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in DECISION_COLUMNS})


def _granted(value: object) -> bool:
    if isinstance(value, list | tuple | np.ndarray):
        return len(value) > 0
    return bool(value) and str(value).strip(" ;") != ""


def store_months(store: Path | None) -> list[str]:
    """Months the validated store holds; none when there is no store (a serving host
    without the store counts the case store's decisions only)."""
    if store is None or not (Path(store) / MANIFEST_FILE).is_file():
        return []
    return list_snapshots(store)


def record_facts(store: Path | None, as_of: str, index: pd.Index) -> pd.DataFrame:
    """Verified, confirmed and assisted households of ``as_of`` by the store's records."""
    out = pd.DataFrame(False, index=index, columns=["verified_records", "confirmed_records",
                                                    "assisted_records"])
    if as_of not in store_months(store):
        return out
    t = load_tables(store, as_of=as_of, months=1, tables=["assistance", "verifications"])
    out["assisted_records"] = receiving(t["assistance"], index, as_of=as_of).any(axis=1)
    v = t["verifications"]
    v = v.loc[(v["snapshot"].astype(str) == as_of).to_numpy()]
    ids = v["household_id"].astype(str)
    conf = ids[(v["outcome"].astype("string") == "confirmed").fillna(False).to_numpy()]
    for col, found in (("verified_records", ids), ("confirmed_records", conf)):
        pos = index.get_indexer(found.unique())  # the cost follows the visits
        flags = np.zeros(len(index), dtype=bool)
        flags[pos[pos >= 0]] = True
        out[col] = flags
    return out


def decision_facts(decisions: pd.DataFrame | None, as_of: str, index: pd.Index) -> pd.DataFrame:
    """Visited, confirmed and granted households of ``as_of`` by the case store's decisions
    on that month's referrals (the latest decision of a household counts)."""
    cols = ["verified_decisions", "confirmed_decisions", "assisted_decisions", "not_confirmed"]
    out = np.zeros((len(index), len(cols)), dtype=bool)
    d = None if decisions is None or decisions.empty else \
        decisions.loc[(decisions["as_of"].astype(str) == as_of).to_numpy()]
    if d is not None and len(d):
        d = d.drop_duplicates("household_id", keep="last")
        # positions by the index's own hash table (built once, kept by pandas): the cost
        # follows the decisions, not the district
        pos = index.get_indexer(d["household_id"].astype(str))
        d, pos = d.loc[pos >= 0], pos[pos >= 0]
        confirmed = (d["outcome"].astype(str) == "confirmed").to_numpy()
        granted = np.array([_granted(v) for v in d["programmes_granted"]], dtype=bool)
        for j, rows in enumerate((pos, pos[confirmed], pos[confirmed & granted],
                                  pos[~confirmed])):
            out[rows, j] = True
    return pd.DataFrame(out, index=index, columns=cols)


def month_facts(store: Path | None, as_of: str, index: pd.Index,
                decisions: pd.DataFrame | None) -> pd.DataFrame:
    """Per household of ``index``: the facts of each source (:data:`SOURCE_FACTS`) and the
    counted union ``verified``, ``confirmed``, ``assisted`` (see the module docstring)."""
    ids = index.astype(str)
    return counted(record_facts(store, as_of, ids),
                   decision_facts(decisions, as_of, ids)).set_axis(index)


def counted(records: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """The facts of both sources (:func:`record_facts`, :func:`decision_facts`, same index)
    and what coverage counts of them, each household once (the module docstring's rules)."""
    f = records.join(decisions)
    f["verified"] = f["verified_records"] | f["verified_decisions"]
    f["confirmed"] = f["confirmed_decisions"] | (f["confirmed_records"] & ~f["not_confirmed"])
    f["assisted"] = f["assisted_records"] | f["assisted_decisions"]
    return f.drop(columns="not_confirmed")


def probability_basis(summary: dict | None) -> str:
    """``population`` when the snapshot's probabilities were calibrated for the whole district
    (the summary's ``calibration.basis``, written when the model's map was refitted on the
    labels of visits chosen by score, exploration included), else ``visited`` (calibrated on visited households only)."""
    basis = ((summary or {}).get("calibration") or {}).get("basis")
    return "population" if basis == "population" else "visited"
