"""A read-only view of the model registry for the pages: versions, production, gate verdicts.

The serving layer does not use :mod:`assist.experiments` directly (only pipelines do); this
module is its one door to the registry. It never creates an MLflow store: when the settings'
SQLite store does not exist yet there is simply no registry to show.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from assist.experiments.registry import (
    PRODUCTION,
    VersionInfo,
    compare,
    gate,
    production_version,
    version_info,
    version_numbers,
)
from assist.experiments.tracking import MODEL_NAME, client

__all__ = ["MODEL_NAME", "Gate", "Registry", "RegistryUnavailable", "compare", "read_registry"]


class RegistryUnavailable(RuntimeError):
    """The tracking store exists but cannot be read right now."""


@dataclass(frozen=True)
class Gate:
    """The promotion gate's verdict on one version."""

    state: str  # production | override | passes | refused | unknown
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Registry:
    """Every version of the need model with its gate verdict, read at ``read_at``."""

    name: str
    versions: tuple[VersionInfo, ...]  # oldest first
    production: str | None
    gates: dict[str, Gate]
    read_at: dt.datetime

    def get(self, version: str) -> VersionInfo | None:
        """A version by number."""
        return next((v for v in self.versions if v.version == version), None)


def store_missing(uri: str) -> bool:
    """Whether ``uri`` is a local SQLite store that does not exist yet (never create it here)."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return False
    path = unquote(parsed.path[1:] if parsed.path.startswith("//") else parsed.path)
    return not path or not Path(path).is_file()


def _gate(v: VersionInfo, production: VersionInfo | None) -> Gate:
    if PRODUCTION in v.aliases:
        if v.tags.get("promotion.override") == "true":
            return Gate("override", (v.tags.get("promotion.override_reason", ""),))
        return Gate("production")
    if v.report is None:
        return Gate("unknown")
    d = gate(v, production)
    return Gate("passes" if d.accepted else "refused", d.reasons)


def read_registry(uri: str, name: str = MODEL_NAME) -> Registry | None:
    """The registry view of ``name`` at ``uri`` (None when no MLflow store exists yet)."""
    if store_missing(uri):
        return None
    try:
        c: Any = client(uri)
        numbers = version_numbers(c, name)
        versions = tuple(version_info(c, name, n) for n in numbers)
        prod = production_version(c, name)
    except Exception as exc:  # noqa: BLE001 - MLflow raises many kinds; the caller says so
        raise RegistryUnavailable(f"the model registry at {uri} cannot be read "
                                  f"({type(exc).__name__})") from exc
    production = next((v for v in versions if v.version == prod), None)
    gates = {v.version: _gate(v, production) for v in versions}
    return Registry(name, versions, prod, gates, dt.datetime.now(tz=dt.UTC))
