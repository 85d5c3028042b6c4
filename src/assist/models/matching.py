"""Programme matching: a declarative rule table -> which programmes each household may get, and why.

The table (:file:`programmes.yaml`, package data; a district may pass its own) lists each
programme with its rules. A programme matches when any of its rules matches; a rule matches
when all of its conditions hold. Conditions are ``"<fact> <op> <number>"`` strings parsed
by a tiny grammar (no ``eval``); facts are indicator ids or household attributes. Missing
values never satisfy a condition. Rules are evaluated as array comparisons over all
households at once (a loop over the few rules, never over households).

Households already receiving a programme (an active grant in the ``assistance`` table) are
not referred for it again; ``superseded_by`` stops a referral when the household qualifies
for or receives a programme that replaces it (a dibao household is not also referred for
low-income status); ``gap_of`` (charity) makes a rule match only where none of the listed
programmes is open. Households receiving everything they qualify for are not referable but
still count in :meth:`Match.coverage`.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assist.errors import ConfigError
from assist.features.codes import CAUSES, PROGRAMMES  # noqa: F401 - PROGRAMMES re-exported
from assist.features.indicators import CATALOG
from assist.yamlfile import read_yaml

DEFAULT_RULES = Path(__file__).with_name("programmes.yaml")
#: household attributes rules may use besides the indicators
ATTRIBUTE_FACTS = ("size", "head_age", "has_elderly", "has_disability")
FACTS: tuple[str, ...] = (*CATALOG.ids, *ATTRIBUTE_FACTS)
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
       "==": operator.eq, "!=": operator.ne}
_CONDITION = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")
_PROGRAMME_FIELDS = {"name_zh", "name_en", "causes", "rules", "superseded_by"}
_RULE_FIELDS = {"id", "when", "reason_en", "reason_zh", "gap_of"}


@dataclass(frozen=True)
class Condition:
    """``fact op value``, e.g. ``income_per_capita_ratio < 1``."""

    fact: str
    op: str
    value: float

    def __call__(self, facts: pd.DataFrame) -> np.ndarray:
        """Whether each household satisfies the condition (missing values: False)."""
        v = facts[self.fact].to_numpy(dtype=float, na_value=np.nan)
        return OPS[self.op](v, self.value) & ~np.isnan(v)


@dataclass(frozen=True)
class Rule:
    """One way to qualify for a programme, with its reason in plain words."""

    id: str
    conditions: tuple[Condition, ...]
    reason_en: str
    reason_zh: str
    gap_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class Programme:
    """An assistance programme, the causes it addresses and its eligibility rules."""

    code: str
    name_zh: str
    name_en: str
    causes: tuple[str, ...]
    rules: tuple[Rule, ...]
    superseded_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleTable:
    """The validated programme table."""

    version: int
    programmes: tuple[Programme, ...]

    @property
    def codes(self) -> list[str]:
        """Programme codes in table order."""
        return [p.code for p in self.programmes]

    def __getitem__(self, code: str) -> Programme:
        for p in self.programmes:
            if p.code == code:
                return p
        raise KeyError(f"no programme {code!r} in the rule table")

    def digest(self) -> str:
        """SHA-256 of the table's content (part of the scoring config hash)."""
        text = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_rules(path: str | Path | None = None) -> RuleTable:
    """Read and validate a programme rule table (default: the built-in one)."""
    path = Path(path) if path else DEFAULT_RULES
    data = read_yaml(path, what="programme rules")
    return parse_rules(data, source=str(path))


def parse_rules(data: Any, *, source: str = "programme rules") -> RuleTable:  # noqa: ANN401
    """Validate raw YAML data; errors name the programme, rule and field at fault."""
    if not isinstance(data, Mapping) or not isinstance(data.get("programmes"), Mapping):
        raise ConfigError(f"{source}: needs a 'programmes' mapping")
    programmes = [_programme(code, spec, f"{source}: programme {code!r}")
                  for code, spec in data["programmes"].items()]
    _check_references(programmes, source)
    return RuleTable(version=int(data.get("version", 1)), programmes=tuple(programmes))


def _programme(code: str, spec: Any, where: str) -> Programme:  # noqa: ANN401
    """One programme of the table, validated (errors name the programme and field)."""
    if code not in PROGRAMMES:
        raise ConfigError(f"{where}: unknown programme code (known: {', '.join(PROGRAMMES)})")
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: must be a mapping of fields")
    _no_extra(spec, _PROGRAMME_FIELDS, where)
    causes = _strings(spec.get("causes", []), f"{where}, field 'causes'")
    bad = [c for c in causes if c not in CAUSES]
    if bad:
        raise ConfigError(f"{where}, field 'causes': unknown cause(s) {bad}")
    rules = spec.get("rules")
    if not isinstance(rules, list) or not rules:
        raise ConfigError(f"{where}, field 'rules': needs a non-empty list of rules")
    return Programme(
        code=code, name_zh=_text(spec, "name_zh", where), name_en=_text(spec, "name_en", where),
        causes=tuple(causes), rules=tuple(_rule(r, i, where) for i, r in enumerate(rules)),
        superseded_by=tuple(_strings(spec.get("superseded_by", []),
                                     f"{where}, field 'superseded_by'")))


def _check_references(programmes: list[Programme], source: str) -> None:
    """Programmes named by ``superseded_by`` and ``gap_of`` exist, and gap rules do not chain."""
    codes = [p.code for p in programmes]
    for p in programmes:
        for ref, field in [*((s, "superseded_by") for s in p.superseded_by),
                           *((g, "gap_of") for r in p.rules for g in r.gap_of)]:
            if ref not in codes or ref == p.code:
                raise ConfigError(f"{source}: programme {p.code!r}, field {field!r}: "
                                  f"{ref!r} is not another programme of the table")
    gapped = {p.code for p in programmes if any(r.gap_of for r in p.rules)}
    for p in programmes:
        for r in p.rules:
            if set(r.gap_of) & gapped:
                raise ConfigError(f"{source}: programme {p.code!r}, rule {r.id!r}, field "
                                  "'gap_of': may not name a programme that has gap rules itself")


def _rule(spec: Any, i: int, where: str) -> Rule:  # noqa: ANN401
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}, rule {i + 1}: must be a mapping")
    rid = spec.get("id")
    if not isinstance(rid, str) or not rid:
        raise ConfigError(f"{where}, rule {i + 1}, field 'id': needs a name")
    at = f"{where}, rule {rid!r}"
    _no_extra(spec, _RULE_FIELDS, at)
    when = spec.get("when")
    if not isinstance(when, list) or not when:
        raise ConfigError(f"{at}, field 'when': needs a non-empty list of conditions")
    conditions = []
    for text in when:
        m = _CONDITION.match(str(text))
        if not m:
            raise ConfigError(f"{at}, field 'when': {text!r} is not '<fact> <op> <number>' "
                              f"(op one of {' '.join(OPS)})")
        if m.group(1) not in FACTS:
            raise ConfigError(f"{at}, field 'when': unknown fact {m.group(1)!r} (facts are "
                              "indicator ids and " + ", ".join(ATTRIBUTE_FACTS) + ")")
        conditions.append(Condition(m.group(1), m.group(2), float(m.group(3))))
    return Rule(id=rid, conditions=tuple(conditions), reason_en=_text(spec, "reason_en", at),
                reason_zh=_text(spec, "reason_zh", at),
                gap_of=tuple(_strings(spec.get("gap_of", []), f"{at}, field 'gap_of'")))


def _no_extra(spec: Mapping, allowed: set[str], where: str) -> None:
    extra = sorted(set(spec) - allowed)
    if extra:
        raise ConfigError(f"{where}: unknown field(s) {extra} (allowed: {sorted(allowed)})")


def _text(spec: Mapping, name: str, where: str) -> str:
    v = spec.get(name)
    if not isinstance(v, str) or not v.strip():
        raise ConfigError(f"{where}, field {name!r}: needs a non-empty text")
    return v


def _strings(v: Any, where: str) -> list[str]:  # noqa: ANN401
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{where}: needs a list of names")
    return list(v)


def facts_frame(values: pd.DataFrame, attributes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Indicator values plus the numeric household attributes rules may use."""
    out = values.copy()
    for name in ATTRIBUTE_FACTS:
        if attributes is not None and name in attributes:
            out[name] = pd.to_numeric(attributes[name].reindex(values.index),
                                      errors="coerce").astype(float)
        else:
            out[name] = np.nan
    return out


def receiving(assistance: pd.DataFrame, households: pd.Index, *, as_of: str,
              codes: Sequence[str] = tuple(PROGRAMMES)) -> pd.DataFrame:
    """Whether each household holds an active grant of each programme at the end of ``as_of``."""
    out = pd.DataFrame(False, index=households, columns=list(codes))
    if assistance.empty:
        return out
    start = pd.Period(as_of, freq="M").start_time
    snap = assistance["snapshot"].astype(str)
    current = assistance.loc[(snap == snap.max()).to_numpy()]
    end = current["end_date"]
    active = (end.isna() | (end >= start)).to_numpy(dtype=bool)
    rows = households.get_indexer(current["household_id"].astype(str))
    cols = pd.Index(list(codes)).get_indexer(current["programme"].astype(str))
    ok = active & (rows >= 0) & (cols >= 0)
    arr = out.to_numpy(copy=True)
    arr[rows[ok], cols[ok]] = True
    return pd.DataFrame(arr, index=households, columns=list(codes))


@dataclass(frozen=True, eq=False)
class Match:
    """Per household and programme: eligible, the rule that matched, receiving, referable."""

    table: RuleTable
    eligible: pd.DataFrame
    rule: pd.DataFrame
    receiving: pd.DataFrame
    referable: pd.DataFrame

    def coverage(self) -> dict[str, dict[str, int]]:
        """Per programme: households eligible, eligible and receiving, referable."""
        e, r, f = (x.to_numpy() for x in (self.eligible, self.receiving, self.referable))
        out = {code: {"eligible": int(e[:, j].sum()), "covered": int((e[:, j] & r[:, j]).sum()),
                      "receiving": int(r[:, j].sum()), "referable": int(f[:, j].sum())}
               for j, code in enumerate(self.table.codes)}
        any_e = e.any(axis=1)
        out["any"] = {"eligible": int(any_e.sum()), "referable": int(f.any(axis=1).sum()),
                      "fully_covered": int((any_e & ~f.any(axis=1)).sum()),
                      "receiving": int(r.any(axis=1).sum())}
        return out


def match(facts: pd.DataFrame, table: RuleTable, *,
          received: pd.DataFrame | None = None) -> Match:
    """Evaluate every rule over all households (vectorised) and decide what is referable."""
    missing = sorted({c.fact for p in table.programmes for r in p.rules for c in r.conditions}
                     - set(facts.columns))
    if missing:
        raise ValueError(f"facts lack the column(s) {missing} the rule table uses")
    n, codes = len(facts), table.codes
    first_pass: dict[str, np.ndarray] = {}
    for p in table.programmes:
        first_pass[p.code] = np.zeros(n, dtype=bool)
        for r in p.rules:
            if not r.gap_of:
                first_pass[p.code] |= _holds(r, facts)
    eligible = np.zeros((n, len(codes)), dtype=bool)
    rule = np.full((n, len(codes)), "", dtype=object)
    for j, p in enumerate(table.programmes):
        for r in reversed(p.rules):  # the first rule that matches is the one reported
            hit = _holds(r, facts)
            for g in r.gap_of:
                hit &= ~first_pass[g]
            eligible[:, j] |= hit
            rule[hit, j] = r.id
    got = np.zeros_like(eligible) if received is None else \
        received.reindex(index=facts.index, columns=codes, fill_value=False).to_numpy(dtype=bool)
    blocked = np.zeros_like(eligible)
    for j, p in enumerate(table.programmes):
        for s in p.superseded_by:
            k = codes.index(s)
            blocked[:, j] |= eligible[:, k] | got[:, k]
    referable = eligible & ~got & ~blocked

    def frame(a: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(a, index=facts.index, columns=codes)

    return Match(table=table, eligible=frame(eligible), rule=frame(rule),
                 receiving=frame(got), referable=frame(referable))


def _holds(rule: Rule, facts: pd.DataFrame) -> np.ndarray:
    hit = np.ones(len(facts), dtype=bool)
    for c in rule.conditions:
        hit &= c(facts)
    return hit


def describe(m: Match, households: pd.Index | None = None, *,
             only: pd.DataFrame | None = None) -> pd.DataFrame:
    """Referable programmes of each household as text: codes, reasons (zh/en), causes addressed.

    ``only`` (bool, households x programmes) restricts the listing, e.g. to allocated places.
    """
    idx = m.referable.index if households is None else households
    sel = (m.referable if only is None else only.reindex(columns=m.table.codes,
                                                          fill_value=False)).reindex(idx)
    sel = sel.fillna(False).to_numpy(dtype=bool)
    rules = m.rule.reindex(idx).to_numpy()
    codes = np.full(len(idx), "", dtype=object)
    en, zh, causes = codes.copy(), codes.copy(), codes.copy()
    cause_keys = list(CAUSES)
    addressed = np.zeros((len(idx), len(cause_keys)), dtype=bool)
    for j, p in enumerate(m.table.programmes):
        reason_en = {r.id: f"{p.name_en}: {r.reason_en}" for r in p.rules}
        reason_zh = {r.id: f"{p.name_zh}：{r.reason_zh}" for r in p.rules}
        hit = sel[:, j]
        if not hit.any():
            continue
        rid = pd.Series(rules[hit, j])
        codes[hit] += p.code + ";"
        en[hit] += rid.map(reason_en).to_numpy(dtype=object) + "; "
        zh[hit] += rid.map(reason_zh).to_numpy(dtype=object) + "；"
        for c in p.causes:
            addressed[:, cause_keys.index(c)] |= hit
    for k, c in enumerate(cause_keys):
        causes[addressed[:, k]] += c + ";"
    tidy = lambda a, sep: pd.Series(a, index=idx).str.rstrip(sep).astype("string")  # noqa: E731
    return pd.DataFrame({"programmes": tidy(codes, ";"), "reasons_en": tidy(en, "; "),
                         "reasons_zh": tidy(zh, "；"), "causes_addressed": tidy(causes, ";")},
                        index=idx)
