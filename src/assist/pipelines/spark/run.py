"""What the CLI calls for ``--engine spark``: open a session, run the stage, stop the session."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

from assist.experiments.tracking import MODEL_NAME
from assist.pipelines.spark import require_pyspark


def features_with_spark(*, store: str | Path, as_of: str, out: str | Path,
                        master: str | None = None, buckets: int | None = None,
                        status: Any = None) -> Any:  # noqa: ANN401
    """``assist features --engine spark``: build one month's features on Spark."""
    require_pyspark()  # a clear message naming the extra, before anything else
    from assist.pipelines.spark.features import build_features_spark
    from assist.pipelines.spark.session import session

    with session(master, app_name=f"assist features {as_of}") as spark, \
            (status(f"building features as of {as_of} on Spark") if status else nullcontext()):
        return build_features_spark(spark, store=store, as_of=as_of, out=out, buckets=buckets)


def score_with_spark(s: Any, *, as_of: str, model: str = "production",  # noqa: ANN401
                     model_path: Path | None = None, model_name: str = MODEL_NAME,
                     config: Path | None = None, store: str | Path | None = None,
                     out_dir: str | Path | None = None, master: str | None = None,
                     buckets: int | None = None, status: Any = None) -> tuple[Any, str]:  # noqa: ANN401
    """``assist score --engine spark``: resolve model and config as the pandas engine does, then
    score the month on Spark."""
    require_pyspark()
    from assist.pipelines.score import config_digest, load_scoring_config, resolve_model
    from assist.pipelines.spark.score import run_scoring_spark
    from assist.pipelines.spark.session import session

    cfg = load_scoring_config(config)
    need, version = resolve_model(model=model, model_path=model_path,
                                  tracking_uri=s.mlflow_uri, registered_model=model_name)
    with session(master, app_name=f"assist score {as_of}") as spark, \
            (status(f"scoring {as_of} with {version} on Spark") if status else nullcontext()):
        run = run_scoring_spark(spark, store=store or s.store_dir, as_of=as_of,
                                out=out_dir or s.workspace / "scores", model=need,
                                model_version=version, config=cfg, config_hash=config_digest(cfg),
                                truth_dir=s.truth_dir, key=s.pseudonym_key.get_secret_value(),
                                buckets=buckets)
    return run, version
