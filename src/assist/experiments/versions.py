"""What the registry and the model cards both read: a registered version and its headline metrics.

Imported by :mod:`assist.experiments.registry` and :mod:`assist.experiments.card`; it imports
neither, so the card never reaches back into the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GATE_METRIC = "precision_at_k"
#: the gate's metric: verified precision@k pooled over the run's test folds
GATE_KEY = f"pooled.verified.model.{GATE_METRIC}"
#: headline metrics shown by compare and the model card: (run metric, label)
HEADLINE: tuple[tuple[str, str], ...] = (
    (GATE_KEY, "verified precision@k, test folds pooled"),
    ("pooled.truth.model.precision_at_k", "true precision@k, test folds pooled"),
    *[(f"latest.{t}.model.{m}", f"{t} {m}, latest month") for t in ("verified", "truth")
      for m in ("precision_at_k", "recall_at_k", "roc_auc", "pr_auc", "brier", "ece")],
)


@dataclass(frozen=True)
class VersionInfo:
    """One registered model version with its run's params, metrics, tags and report."""

    name: str
    version: str
    run_id: str
    created: datetime
    aliases: tuple[str, ...]
    tags: Mapping[str, str]
    params: Mapping[str, str]
    metrics: Mapping[str, float]
    report: Mapping[str, Any] | None = field(default=None, repr=False)

    def metric(self, target: str, scorer: str, name: str) -> float | None:
        """A latest-test-month metric of the run (``None`` when not logged)."""
        return self.metrics.get(f"latest.{target}.{scorer}.{name}")
