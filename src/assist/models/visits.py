"""Visit deadlines: how many days a caseworker has for an assigned visit (the ``visits``
section of ``experiments/scoring.yaml``), read by the scoring config and the case store alike."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class VisitsSection(BaseModel):
    """Due dates of assigned visits: ``due_days`` after the assignment (a reassignment starts
    the count again); a visit not decided by its due date is overdue."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    due_days: Annotated[int, Field(ge=1, le=90)] = 14

    def due(self, assigned_on: dt.date) -> dt.date:
        """The due date of a visit assigned on ``assigned_on``."""
        return assigned_on + dt.timedelta(days=self.due_days)
