"""Spark sessions for the engine: local mode for tests and one machine, or the cluster's own.

A session made here for a ``local[...]`` master runs its Python workers on this interpreter
(the project's venv), so ``applyInPandas`` finds pandas, pyarrow and ``assist``. On a cluster
``spark-submit`` decides the master and the executors' Python (see the README).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from assist.pipelines.spark import SparkUnavailable, pandas3_warning_filtered, require_pyspark

#: always set: the store writes timestamps in nanoseconds, which Spark reads only as longs
ENGINE_CONF = {
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # the Python workers import pandera, hence pyspark.pandas: the one known pandas-3 warning
    # (see assist.pipelines.spark.PANDAS3_WARNING) is filtered there too, nothing else
    "spark.executorEnv.PYTHONWARNINGS": "ignore:PySpark does not yet fully support pandas:FutureWarning",
}
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
}


def spark_session(master: str | None = None, *, app_name: str = "assist",
                  conf: Mapping[str, str] | None = None) -> Any:  # noqa: ANN401 - SparkSession
    """A Spark session: ``master`` (e.g. ``local[2]``) or, when None, the one ``spark-submit`` set
    up (``local[2]`` outside spark-submit). The engine's settings are applied either way."""
    require_pyspark()
    from pyspark.sql import SparkSession

    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit started the JVM for us
    if master is None and not submitted:
        master = "local[2]"
    local = master is not None and master.startswith("local")
    if local:
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise SparkUnavailable("the Spark engine needs Java (17 or 21): none on PATH or JAVA_HOME")
        # workers must run the venv's interpreter, not the system python (no pyarrow there)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    for key, value in {**(LOCAL_CONF if local else {}), **ENGINE_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    with pandas3_warning_filtered():
        spark = builder.getOrCreate()
    for key, value in ENGINE_CONF.items():  # a session that already existed gets the SQL ones too
        if key.startswith("spark.sql."):
            spark.conf.set(key, value)
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextlib.contextmanager
def session(master: str | None = None, **kw: Any) -> Iterator[Any]:  # noqa: ANN401
    """A Spark session, stopped when the block ends if this block started it (a session that
    was already running, e.g. the caller's, is left running)."""
    require_pyspark()
    from pyspark.sql import SparkSession

    running = SparkSession.getActiveSession()
    spark = spark_session(master, **kw)
    try:
        yield spark
    finally:
        if running is None:
            spark.stop()
