"""The batch processor: validate meter messages, map meters to households, fold readings into
the meters' states and write the states and the alerts they raise in ONE transaction.

A batch is committed before its messages are acknowledged to the broker (the listener's
manual ack), so after a crash every unacknowledged message is delivered again and folded into
the last committed state: nothing is lost, and a reading already folded is recognised by its
timestamp (at or before the meter's ``last_ts``) and ignored. The unique key of an alert
(household, rule, episode) refuses a second row for the same episode whatever happens.

Bad messages are counted and kept in ``meter_rejects`` with their reason; they never stop the
listener. Raw meter ids are pseudonymised (``m`` + 20 hex, the ingest key) at once; neither a
raw id nor a pseudonym reaches a log line.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from assist.features.schemas import RAW_ID_PATTERN
from assist.ingest.pseudonym import pseudonym
from assist.serving.alerts import rules as engine
from assist.serving.alerts.config import MeterRules
from assist.serving.models import Alert, AuditEntry, MeterRegistration, MeterReject, MeterState, utcnow

log = logging.getLogger("assist.meters")
#: the audit log's name for the listener (no user)
LISTENER = "meters-listener"
MAX_PAYLOAD = 1024
_RAW_ID = re.compile(RAW_ID_PATTERN)
_CORE = ("last_ts", "last_litres", "last_use_at", "flow_since", "readings")
_COLUMNS = (*_CORE, "usual")
_T = MeterState.__table__
#: executemany statements (Core: the ORM's bulk update costs ~4x more per row)
_UPDATE_CORE = update(_T).where(_T.c.meter_id == bindparam("m")).values(
    **{c: bindparam(c) for c in _CORE})
_UPDATE_USUAL = update(_T).where(_T.c.meter_id == bindparam("m")).values(usual=bindparam("usual"))


class Payload(BaseModel):
    """A reading as a meter platform publishes it (JSON)."""

    model_config = ConfigDict(extra="ignore", strict=False)
    meter_id: str = Field(pattern=RAW_ID_PATTERN)
    ts: dt.datetime
    litres: float = Field(ge=0, le=5000)
    away: bool = False

    @field_validator("ts")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("timestamp needs a time zone (e.g. 2026-12-06T08:15:00+08:00)")
        return v.astimezone(dt.UTC)

    @field_validator("litres")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("litres must be a finite number")
        return v


@dataclass
class BatchResult:
    """What one batch did."""

    readings: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    alerts: list[dict[str, Any]] = field(default_factory=list)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time as aware UTC (SQLite returns naive values)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


class Processor:
    """Folds batches of ``(topic, payload)`` messages into the case store (see module doc)."""

    def __init__(self, sessions: sessionmaker[Session], rules: MeterRules, *,
                 key: str | bytes) -> None:
        self.sessions, self.rules, self.key = sessions, rules, key
        self._pseudonyms: dict[str, str] = {}
        self.registrations: dict[str, MeterRegistration] = {}
        self.states: dict[str, engine.State] = {}
        self._stored: set[str] = set()
        self.reload()

    def reload(self) -> None:
        """Read registrations and every meter's committed state from the store."""
        with self.sessions() as s:
            self.registrations = {r.meter_id: r for r in s.scalars(select(MeterRegistration))}
            self.states = {}
            for row in s.scalars(select(MeterState)):
                self.states[row.meter_id] = engine.State(
                    meter_id=row.meter_id, last_ts=_utc(row.last_ts),
                    last_litres=row.last_litres, last_use_at=_utc(row.last_use_at),
                    flow_since=_utc(row.flow_since), readings=row.readings,
                    usual=dict(row.usual or {}))
        self._stored = set(self.states)

    def meter_pseudonym(self, raw: str) -> str:
        """The meter's pseudonym (cached per raw id)."""
        p = self._pseudonyms.get(raw)
        if p is None:
            p = self._pseudonyms[raw] = pseudonym(raw, kind="meter", key=self.key)
        return p

    def parse(self, topic: str, payload: bytes) -> tuple[engine.Reading | None, str, str]:
        """The reading of a message, or None with the reason code and its words."""
        parts = topic.split("/")
        prefix = self.rules.topic.prefix
        if not topic.startswith(prefix + "/") or len(parts) != prefix.count("/") + 3 \
                or parts[-1] != "reading" or not _RAW_ID.match(parts[-2]):
            return None, "bad_topic", f"topic is not {prefix}/<meter_id>/reading"
        try:
            p = Payload.model_validate_json(payload)
        except ValidationError as exc:
            err = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(x) for x in err["loc"]) or "payload"
            return None, "invalid_payload", f"{where}: {err['msg']}"
        if p.meter_id != parts[-2]:
            return None, "meter_mismatch", "payload meter_id differs from the topic's"
        meter = self.meter_pseudonym(p.meter_id)
        if meter not in self.registrations:
            return None, "unregistered_meter", "meter is not in the registration table"
        return engine.Reading(meter, p.ts, p.litres, p.away), "", ""

    def handle(self, messages: list[tuple[str, bytes]]) -> BatchResult:
        """Fold one batch and commit it (states, alerts, rejects, audit); on failure nothing is
        kept, the cached states are re-read, and the error propagates (no ack)."""
        out, rejects, touched, found = BatchResult(), [], {}, []
        for topic, payload in messages:
            reading, reason, words = self.parse(topic, payload)
            if reading is None:
                out.rejected[reason] += 1
                rejects.append(_reject(topic, payload, reason, words, self))
                continue
            state = self.states.get(reading.meter_id) or engine.State(reading.meter_id)
            reg = self.registrations[reading.meter_id]
            findings = engine.apply(state, reading, reg.profile, self.rules)
            if findings is None:
                out.duplicates += 1
                continue
            out.readings += 1
            self.states[reading.meter_id] = touched[reading.meter_id] = state
            found += [(reg, f) for f in findings]
        try:
            with self.sessions() as s:
                self._write(s, touched, rejects)
                out.alerts = [a for reg, f in found if (a := _raise(s, reg, f, self.rules))]
                s.commit()
        except Exception:
            self.reload()
            raise
        self._stored |= set(touched)
        return out

    def _write(self, s: Session, touched: dict[str, engine.State], rejects: list[dict]) -> None:
        """Every touched meter's rule fields; its learned pattern and alerted episodes only
        when they changed (a closed day, a raised alert: see :attr:`State.usual_changed`), so
        a batch does not re-serialise 60,000 patterns. After a crash, a day's running tallies
        restart from the last closed day; the rules' fields and episodes never do."""
        new = [{"meter_id": m, **{c: getattr(st, c) for c in _COLUMNS}}
               for m, st in touched.items() if m not in self._stored]
        old = [{"m": m, **{c: getattr(st, c) for c in _CORE}}
               for m, st in touched.items() if m in self._stored]
        changed = [{"m": m, "usual": st.usual} for m, st in touched.items()
                   if m in self._stored and st.usual_changed]
        if old:
            s.execute(_UPDATE_CORE, old)
        if changed:
            s.execute(_UPDATE_USUAL, changed)
        if new:
            s.execute(insert(MeterState), new)
        if rejects:
            s.execute(insert(MeterReject), rejects)
        for st in touched.values():
            st.usual_changed = False


def _reject(topic: str, payload: bytes, reason: str, words: str, p: Processor) -> dict:
    """A ``meter_rejects`` row: the topic with its meter id pseudonymised, the payload cut."""
    parts = topic[:256].split("/")
    if len(parts) >= 2 and _RAW_ID.match(parts[-2]):
        parts[-2] = p.meter_pseudonym(parts[-2])
    text = payload[:MAX_PAYLOAD].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    topic = "/".join(parts)[:256].replace("\x00", "\ufffd")  # PostgreSQL refuses NUL
    return {"received_at": utcnow(), "topic": topic, "reason": reason,
            "detail": words[:500], "payload": text}


def _raise(s: Session, reg: MeterRegistration, f: engine.Finding,
           rules: MeterRules) -> dict[str, Any] | None:
    """Insert the alert unless its episode has one already; audit it; the webhook's event."""
    values = dict(household_id=reg.household_id, meter_id=reg.meter_id,
                  street_code=reg.street_code, community_code=reg.community_code,
                  profile=reg.profile, rule=f.rule, episode=f.episode, span_hours=f.span_hours,
                  detected_at=f.detected_at, last_reading_at=f.last_reading_at,
                  last_litres=f.last_litres, usual_zh=f.usual_zh, usual_en=f.usual_en,
                  status="open", created_at=utcnow(), version=1)
    dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(Alert).values(**values).on_conflict_do_nothing(
        index_elements=["household_id", "rule", "episode"]).returning(Alert.id)
    alert_id = s.scalar(stmt)
    if alert_id is None:
        return None
    s.execute(insert(AuditEntry).values(
        at=utcnow(), user_id=None, username=LISTENER, role="system", action="alert.raise",
        endpoint=f"MQTT {rules.topic.subscription}", household_id=reg.household_id,
        detail={"alert_id": alert_id, "rule": f.rule, "street": reg.street_code}))
    return {"event": "alert.raised", "alert_id": alert_id, "rule": f.rule,
            "street_code": reg.street_code, "community_code": reg.community_code,
            "household_id": reg.household_id, "span_hours": f.span_hours,
            "detected_at": f.detected_at.isoformat()}
