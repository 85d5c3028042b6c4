"""The Spark engine: the same feature and scoring functions, run per bucket of households.

City scale (about ten million households) outgrows one machine. This package runs the very
same ``assist.features`` / ``assist.models`` functions on an Apache Spark cluster: the store's
Parquet tables are read by Spark (local paths or any Hadoop-compatible URI), every row gets
the bucket of its household, and ``groupBy(bucket).applyInPandas`` hands each bucket — all
rows of a few thousand households — to the pandas code path. A store that ingest laid out by
household bucket (the same hash) needs no shuffle: each task reads its own bucket's row groups
(:mod:`assist.pipelines.spark.layout`). Global work (ranks, allocation,
referral lists) runs on the driver over small collected columns with the pandas path's own
functions. No feature logic is written twice.

PySpark is the optional ``spark`` extra (``pip install '.[spark]'``); :func:`require_pyspark`
turns its absence into a clear message.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated

import typer

from assist.errors import AssistError

SPARK_EXTRA_HINT = "pip install '.[spark]'"
#: PySpark 4.x warns (FutureWarning) at import and at every pandas conversion that it does not
#: fully support pandas 3. Known upstream limitation: the project keeps pandas 3 and lets only
#: this one named warning through (the same entry is in pyproject's pytest filterwarnings).
PANDAS3_WARNING = r"PySpark does not yet fully support pandas >= 3\.0\.0"


class Engine(StrEnum):
    """Where ``features`` and ``score`` run: this machine (pandas) or a Spark cluster."""

    pandas = "pandas"
    spark = "spark"


#: the CLI options the Spark engine adds to ``assist features`` and ``assist score``
SparkMaster = Annotated[str | None, typer.Option(
    help="Spark master (default: spark-submit's, else local[2]).")]
SparkBuckets = Annotated[int | None, typer.Option(
    min=1, help="Spark: buckets of households (default: ~20,000 households each).")]


class SparkUnavailable(AssistError):
    """The Spark engine was asked for but PySpark (or Java) is not installed."""


@contextlib.contextmanager
def pandas3_warning_filtered() -> Iterator[None]:
    """Let through PySpark's one known warning about pandas 3 (see :data:`PANDAS3_WARNING`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PANDAS3_WARNING, category=FutureWarning)
        yield


def require_pyspark() -> None:
    """Import PySpark, or fail with a message naming the ``spark`` extra."""
    try:
        with pandas3_warning_filtered():
            import pyspark.sql  # noqa: F401
    except ImportError as exc:
        raise SparkUnavailable(
            f"the Spark engine needs PySpark, which is not installed ({exc.name or exc}): "
            f"install the project's spark extra with `{SPARK_EXTRA_HINT}`") from None
