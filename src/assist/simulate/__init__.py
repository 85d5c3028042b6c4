"""District simulator: a seeded, calibrated district written as monthly department extracts.

``simulate(...)`` writes ``out/<table>/<YYYY-MM>.parquet`` for the twelve tables of
:data:`assist.features.schemas.TABLES` and keeps the hidden truth (true need, causes, planted
invalid rows, calibration summary) in ``truth_out``. Modules: :mod:`.calibration` (figures
and sources), :mod:`.population`, :mod:`.events`, :mod:`.need`, :mod:`.services`,
:mod:`.records`, :mod:`.invalid`, :mod:`.writer`, :mod:`.metrics`, :mod:`.run`.
"""

from assist.simulate.run import simulate
from assist.simulate.summary import SimulationSummary

__all__ = ["SimulationSummary", "simulate"]
