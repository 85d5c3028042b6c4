"""What the CLI calls for ``--engine spark``: open a session, run the stage, stop the session."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from assist.experiments.tracking import MODEL_NAME
from assist.pipelines.spark import require_pyspark
from assist.storage.atomic import write_bytes


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
                     buckets: int | None = None, status: Any = None,  # noqa: ANN401
                     decisions: Path | None = None) -> tuple[Any, str]:
    """``assist score --engine spark``: resolve model and config as the pandas engine does
    (``experiments/scoring.yaml`` unless told otherwise), then score the month on Spark.

    With a local output folder, revisions as the pandas engine keeps them
    (:mod:`assist.storage.snapshot`): a month already scored with this model and config is left
    as it is (returns ``(None, version)``); with another, the present one is kept under
    ``revisions/`` first and the new one is stamped with its revision id. (A Hadoop URI output
    is written over, as before.)"""
    require_pyspark()
    from assist.pipelines.score import config_digest, load_scoring_config, resolve_model
    from assist.pipelines.score_config import default_config_path
    from assist.pipelines.spark.score import run_scoring_spark
    from assist.pipelines.spark.session import session
    from assist.storage import snapshot
    from assist.storage.casebook import DECISIONS_FILE

    cfg = load_scoring_config(config or default_config_path(s.workspace))
    config_hash = config_digest(cfg)
    need, version = resolve_model(model=model, model_path=model_path,
                                  tracking_uri=s.mlflow_uri, registered_model=model_name)
    out = out_dir or s.workspace / "scores"
    local = "://" not in str(out)
    if local and model_path is None and snapshot.scored_with(  # a file may change: scored
            Path(out), as_of, model_version=version, config_hash=config_hash):
        return None, version
    named = (Path(out) / snapshot.CURRENT_FILE) if local else None
    before = named.read_bytes() if named is not None and named.is_file() else None
    revision = snapshot.keep_revision(Path(out), as_of, model_version=version,
                                      config_hash=config_hash) if local else None
    with session(master, app_name=f"assist score {as_of}") as spark, \
            (status(f"scoring {as_of} with {version} on Spark") if status else nullcontext()):
        run = run_scoring_spark(spark, store=store or s.store_dir, as_of=as_of, out=out,
                                model=need, model_version=version, config=cfg,
                                config_hash=config_hash, truth_dir=s.truth_dir,
                                key=s.pseudonym_key.get_secret_value(), buckets=buckets,
                                decisions=decisions or s.workspace / "casebook" / DECISIONS_FILE)
    if named is not None and revision is not None:
        if before is not None and str(json.loads(before)["as_of"]) > as_of:
            write_bytes(before, named)  # a later month stays current
        snapshot.stamp_revision(Path(out), as_of, revision)
        run.summary["revision"] = revision
    return run, version
