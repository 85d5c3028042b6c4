"""The MQTT listener (``assist meters listen``) and the file replay (``assist meters replay``).

MQTT 5, QoS 1, a persistent session (``clean_start=False`` with a session expiry): messages
published while the listener is down wait at the broker. Acknowledgements are manual
(``manual_ack=True``): a batch's messages are acknowledged only after the batch is committed
(:class:`~assist.serving.alerts.process.Processor`), so a crash redelivers them. Messages are
batched up to :data:`BATCH_MAX` or :data:`BATCH_SECONDS`; the receive maximum lets the broker
keep a whole batch in flight. Unacknowledged alerts are escalated every
:data:`ESCALATE_EVERY_SECONDS` (wall clock).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from assist.errors import AssistError, InputError
from assist.serving.alerts.process import BatchResult, Processor
from assist.serving.alerts.webhook import Webhook
from assist.serving.services.alerts import escalate_due

log = logging.getLogger("assist.meters")
BATCH_MAX = 5000
BATCH_SECONDS = 0.2
ESCALATE_EVERY_SECONDS = 30.0
RECEIVE_MAXIMUM = 65535
SESSION_EXPIRY_SECONDS = 7 * 24 * 3600


@dataclass
class Stats:
    """What a listener or a replay did."""

    messages: int = 0
    readings: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    alerts: int = 0
    escalated: int = 0
    batches: int = 0
    seconds: float = 0.0
    #: monotonic times of the first message taken and the last batch committed
    first_at: float | None = None
    last_at: float | None = None

    @property
    def streaming_rate(self) -> float:
        """Messages per second between the first message and the last commit."""
        if self.first_at is None or self.last_at is None or self.last_at <= self.first_at:
            return 0.0
        return self.messages / (self.last_at - self.first_at)

    def add(self, n: int, out: BatchResult) -> None:
        """Count one committed batch of ``n`` messages."""
        self.messages += n
        self.readings += out.readings
        self.duplicates += out.duplicates
        self.rejected.update(out.rejected)
        self.alerts += len(out.alerts)
        self.batches += 1
        self.last_at = time.monotonic()

    def rows(self) -> list[tuple[str, str]]:
        """``(what, how many)`` lines for the CLI."""
        rate = self.messages / self.seconds if self.seconds else 0.0
        bad = ", ".join(f"{k} {v:,}" for k, v in sorted(self.rejected.items())) or "none"
        return [("messages", f"{self.messages:,} ({rate:,.0f}/s overall, "
                             f"{self.streaming_rate:,.0f}/s while streaming)"),
                ("readings folded", f"{self.readings:,}"),
                ("duplicates / late (ignored)", f"{self.duplicates:,}"),
                ("rejected (kept with reason)", bad), ("alerts raised", f"{self.alerts:,}"),
                ("alerts escalated", f"{self.escalated:,}"), ("batches committed",
                                                              f"{self.batches:,}")]


def broker_address(url: str) -> tuple[str, int, str | None, str | None]:
    """Host, port, user and password of an ``mqtt://[user:password@]host[:port]`` URL."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise AssistError("ASSIST_MQTT_URL must look like mqtt://host:1883")
    try:
        port = parts.port or 1883
    except ValueError:
        raise AssistError("ASSIST_MQTT_URL has an invalid port") from None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname, port, user, password


class _Escalator:
    def __init__(self, processor: Processor, webhook: Webhook, stats: Stats) -> None:
        self.processor, self.webhook, self.stats = processor, webhook, stats
        self.next_at = 0.0

    def maybe(self, *, force: bool = False) -> None:
        if not force and time.monotonic() < self.next_at:
            return
        self.next_at = time.monotonic() + ESCALATE_EVERY_SECONDS
        try:
            with self.processor.sessions() as s:
                events = escalate_due(s, minutes=self.processor.rules.escalation_minutes)
        except Exception as exc:  # noqa: BLE001 - the store failed: try again next round
            log.error("escalation not done (%s): retrying later", type(exc).__name__)
            return
        self.stats.escalated += len(events)
        self.webhook.send(events)


def _topic(msg: Any) -> str:  # noqa: ANN401 - a paho MQTTMessage
    """The message's topic; one that is not UTF-8 becomes a placeholder (rejected as
    ``bad_topic``), never an exception in paho's network thread."""
    try:
        return msg.topic
    except UnicodeDecodeError:
        return "<topic not UTF-8>"


def _client(url: str, client_id: str, inbox: queue.SimpleQueue, subscription: str,  # noqa: ANN202
            on_ready: Callable[[], None] | None = None):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    host, port, user, password = broker_address(url)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                    manual_ack=True)
    if user:
        c.username_pw_set(user, password)
    c.on_message = lambda _c, _u, msg: inbox.put((_topic(msg), msg.payload, msg.mid, msg.qos))
    c.on_connect = lambda cl, _u, _f, rc, _p: cl.subscribe(subscription, qos=1) \
        if not rc.is_failure else log.error("MQTT connect refused: %s", rc)
    c.on_subscribe = lambda *_: on_ready() if on_ready else None
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    try:
        c.connect(host, port, keepalive=30, clean_start=False, properties=props)
    except OSError as exc:
        raise AssistError(f"cannot reach the MQTT broker at {host}:{port}: "
                          f"{exc.strerror or type(exc).__name__}") from None
    return c


def _drain(inbox: queue.SimpleQueue, first_wait: float) -> list[tuple]:
    """Up to :data:`BATCH_MAX` messages: wait for the first, then gather for BATCH_SECONDS."""
    try:
        batch = [inbox.get(timeout=first_wait)]
    except queue.Empty:
        return []
    until = time.monotonic() + BATCH_SECONDS
    while len(batch) < BATCH_MAX:
        left = until - time.monotonic()
        try:
            batch.append(inbox.get(timeout=left) if left > 0 else inbox.get_nowait())
        except queue.Empty:
            break
    return batch


def listen(processor: Processor, *, url: str, client_id: str, webhook: Webhook,
           stop: threading.Event, max_seconds: float | None = None,
           idle_exit: float | None = None, on_ready: Callable[[], None] | None = None,
           on_batch: Callable[[Stats], None] | None = None) -> Stats:
    """Subscribe and fold messages until ``stop`` is set, ``max_seconds`` pass, or nothing
    arrives for ``idle_exit`` seconds; every batch committed before it is acknowledged."""
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    client = _client(url, client_id, inbox, processor.rules.topic.subscription, on_ready)
    stats, t0 = Stats(), time.monotonic()
    escalator, idle_since = _Escalator(processor, webhook, stats), time.monotonic()
    client.loop_start()
    try:
        while not stop.is_set():
            now = time.monotonic()
            if max_seconds is not None and now - t0 >= max_seconds:
                break
            if idle_exit is not None and now - idle_since >= idle_exit:
                break
            batch = _drain(inbox, 0.5)
            if batch:
                idle_since = time.monotonic()
                if stats.first_at is None:
                    stats.first_at = idle_since - BATCH_SECONDS
                _commit_then_ack(processor, client, batch, stats, webhook, stop)
                if on_batch:
                    on_batch(stats)
            escalator.maybe()
    finally:
        client.disconnect()
        client.loop_stop()
        stats.seconds = time.monotonic() - t0
    return stats


def _commit_then_ack(processor: Processor, client: Any, batch: list[tuple],  # noqa: ANN401
                     stats: Stats, webhook: Webhook, stop: threading.Event) -> None:
    """Commit the batch (retrying while the store is unavailable), then acknowledge it."""
    while True:
        try:
            out = processor.handle([(t, p) for t, p, _, _ in batch])
            break
        except Exception as exc:  # noqa: BLE001 - the store failed: keep the messages, retry
            log.error("meter batch not committed (%s): retrying", type(exc).__name__)
            if stop.wait(1.0):
                return  # stopping: the broker redelivers the unacknowledged batch
    for _, _, mid, qos in batch:
        if qos:
            client.ack(mid, qos)
    stats.add(len(batch), out)
    webhook.send(out.alerts)


def read_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(topic, payload)`` of each line ``{"topic": ..., "payload": {...}}`` of a JSON-lines
    file (the simulator's ``--out``); a bad line is a one-line error naming it."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the message file: {exc.strerror}", file=str(path)) from None
    with handle:
        for i, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                m = json.loads(line)
                topic, payload = m["topic"], m["payload"]
                body = payload if isinstance(payload, str) else json.dumps(payload)
            except (ValueError, KeyError, TypeError):
                raise InputError("not a message line {topic, payload}", file=str(path),
                                 row=i) from None
            yield str(topic), body.encode("utf-8")


def replay(processor: Processor, path: Path, *, webhook: Webhook) -> Stats:
    """Fold a JSON-lines message file through the same processor (no broker), then escalate."""
    stats, t0, batch = Stats(), time.monotonic(), []
    stats.first_at = t0
    for message in read_messages(path):
        batch.append(message)
        if len(batch) >= BATCH_MAX:
            out = processor.handle(batch)
            stats.add(len(batch), out)
            webhook.send(out.alerts)
            batch = []
    if batch:
        out = processor.handle(batch)
        stats.add(len(batch), out)
        webhook.send(out.alerts)
    _Escalator(processor, webhook, stats).maybe(force=True)
    stats.seconds = time.monotonic() - t0
    return stats
