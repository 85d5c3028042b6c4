"""``assist month``: the monthly cycle of one workspace in one command.

ingest the month's new extracts -> build its features -> export the case store's decisions
(what scoring carries forward) -> score it with the production model and
``experiments/scoring.yaml`` (the month's reports are written with it) -> load the snapshot
into the case store -> audit last month's list against the visits and decisions now recorded
for it (fairness, stored in last month's report). Each stage is idempotent, so the same month twice changes nothing and says
so, and a killed run finishes the month when run again; what was current stays current until
the new month is complete (the snapshot pointer moves when scoring ends, the case store when
loading ends). The stages' record is kept in ``<workspace>/months/<YYYY-MM>.json``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from assist.cli.common import console, load_settings, month_option, out, progress_bar, user_errors
from assist.cli.identity import write_identity
from assist.cli.score import score_month
from assist.cli.serving import case_store_session, load_current
from assist.errors import AssistError, InputError
from assist.experiments.tracking import MODEL_NAME
from assist.pipelines import month as cycle
from assist.pipelines.month import DONE, FAILED, UNCHANGED, MonthRecord, StageResult
from assist.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer()

Stage = Callable[[Settings, MonthRecord], StageResult]


def _ingest(s: Settings, record: MonthRecord) -> StageResult:
    """Validate what is new or changed in the source folder; the store must then hold the month."""
    from assist.ingest.run import ingest
    from assist.storage.store import list_snapshots

    summary = ingest(source=s.source_dir, out=s.store_dir, key=s.pseudonym_key.get_secret_value(),
                     strict=True)
    if record.as_of not in list_snapshots(s.store_dir):
        raise AssistError(f"no extracts for {record.as_of} in {s.source_dir}: copy the month's "
                          "department extracts there first")
    changes = summary.changes
    lines = changes.lines(len(summary.tables)) if changes is not None else []
    lines = [*lines, write_identity(s, source=s.source_dir)]
    done = changes is None or changes.validated > 0 or bool(changes.removed)
    return StageResult(DONE if done else UNCHANGED, "; ".join(lines),
                       fingerprint=cycle.store_fingerprint(s.store_dir))


def _features(s: Settings, record: MonthRecord) -> StageResult:
    return cycle.month_features(record, store=s.store_dir, out=s.features_dir)


def _decisions(s: Settings, record: MonthRecord) -> StageResult:
    """Snapshot the case store's decisions for scoring to carry forward."""
    from assist.serving.services.decisions import decisions_snapshot
    from assist.storage.casebook import DECISIONS_FILE, write_decisions
    from assist.storage.store import file_sha256

    path = s.workspace / "casebook" / DECISIONS_FILE
    before = file_sha256(path) if path.exists() else None
    with case_store_session(s) as session:
        frame = decisions_snapshot(session)
    # scoring the month carries forward decisions on earlier months' referrals only; keeping
    # the month's own (just loaded, still pending) out makes a second run change nothing
    frame = frame.loc[frame["referral_month"].astype(str) < record.as_of]
    after = file_sha256(write_decisions(frame, path))
    return StageResult(UNCHANGED if after == before else DONE,
                       f"{pending_rows(frame)} -> {path}", fingerprint=after)


def pending_rows(frame: pd.DataFrame) -> str:
    """``"7 decision(s), 505 pending visit(s)"`` of a decisions snapshot."""
    pending = int((frame["outcome"] == "pending").sum())
    return f"{len(frame) - pending:,} decision(s), {pending:,} pending visit(s)"


def _score(s: Settings, record: MonthRecord, *, model: str, config: Path | None) -> StageResult:
    run, version = score_month(s, as_of=record.as_of, model=model, model_name=MODEL_NAME,
                               config=config)
    if run is None:  # the month is already scored by this model and config
        return StageResult(UNCHANGED, f"already scored with {version}")
    sm = run.summary
    return StageResult(DONE, f"{sm['households_scored']:,} households scored with {version}; "
                             f"{int(sm['allocation']['visits']):,} visits allocated")


def _load(s: Settings, record: MonthRecord) -> StageResult:
    as_of, new, counts = load_current(s, as_of=record.as_of)
    said = ", ".join(f"{v:,} {k}" for k, v in counts.items())
    return StageResult(DONE if new else UNCHANGED,
                       f"{'loaded' if new else 'already loaded'}: {said}")


def _audit(s: Settings, record: MonthRecord) -> StageResult:
    """The fairness of last month's list, now that its visits are in: its snapshot against
    the verification visits dated this month and the case store's decisions on its referrals,
    stored as audit "live" in last month's fairness report (unchanged when the labels are)."""
    import json

    from assist.cli.reports import live_audit
    from assist.pipelines.previous import previous_month
    from assist.reports.audit import MIN_POSITIVES, audit_payload, store_live
    from assist.reports.report import report_folder
    from assist.storage import snapshot

    last = previous_month(record.as_of)
    if not snapshot.exists(s.workspace / "scores", last):
        return StageResult(UNCHANGED, f"no list of {last} to audit")
    try:
        result, _ = live_audit(s, last)
    except InputError as exc:  # no label yet: nothing to judge, the month goes on
        return StageResult(UNCHANGED, f"{last} not audited: {exc}")
    payload = audit_payload(result, min_positives=MIN_POSITIVES)
    path = report_folder(s.workspace, last) / "fairness.json"
    stored = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    said = (f"{last}: {result.n:,} labelled households, "
            f"{len(payload['findings']['harmful'])} harmful finding(s)")
    if (stored.get("audits") or {}).get("live", {}).get("groups") == payload["groups"]:
        return StageResult(UNCHANGED, f"{said} (as stored)")
    store_live(s.workspace, last, payload, rows=result.rows)
    return StageResult(DONE, f"{said} -> {path}")


def month_stages(*, model: str, config: Path | None) -> dict[str, Stage]:
    """The month's stages in order (see the module docstring)."""
    return {"ingest": _ingest, "features": _features, "decisions": _decisions,
            "score": lambda s, r: _score(s, r, model=model, config=config), "load": _load,
            "audit": _audit}


def run_month(s: Settings, as_of: str, stages: dict[str, Stage]) -> MonthRecord:
    """Run the stages in order, recording each; stop at the first that fails."""
    record = cycle.load_record(s.workspace, as_of)
    with progress_bar() as bar:
        task = bar.add_task(f"month {as_of}", total=len(stages))
        for name, stage in stages.items():
            bar.update(task, description=f"month {as_of}: {name}")
            t0 = time.perf_counter()
            try:
                result = stage(s, record)
            except AssistError as exc:
                result = StageResult(FAILED, str(exc))
            result.seconds = round(time.perf_counter() - t0, 2)
            record.stages[name] = result
            cycle.save_record(s.workspace, record)
            bar.advance(task)
            if result.status == FAILED:
                break
    return record


def show(record: MonthRecord) -> None:
    """The stage-by-stage summary."""
    t = Table(title=f"month {record.as_of}")
    for col in ("stage", "result", "seconds", "detail"):
        t.add_column(col, justify="right" if col == "seconds" else "left")
    colour = {DONE: "green", UNCHANGED: "cyan", FAILED: "red"}
    for name in cycle.STAGES:
        r = record.stages.get(name)
        if r is None:
            t.add_row(name, "not run", "", "")
            continue
        t.add_row(name, f"[{colour[r.status]}]{r.status}[/]", f"{r.seconds:.1f}",
                  escape(r.detail))
    out.print(t)


@app.command()
@user_errors
def month(
    as_of: Annotated[str, typer.Option(callback=month_option, help="The month to run, YYYY-MM (its extracts are in "
                                            "the workspace's source folder).")],
    model: Annotated[str, typer.Option(
        help="Registered model version, or 'production' (the promoted one).")] = "production",
    config: Annotated[Path | None, typer.Option(
        help="Scoring config (default: experiments/scoring.yaml).")] = None,
) -> None:
    """The monthly cycle: ingest what is new, features, decisions, score, load the case store,
    audit last month's list."""
    s = load_settings()
    record = run_month(s, as_of, month_stages(model=model, config=config))
    show(record)
    if not record.complete:
        failed = next(n for n, r in record.stages.items() if r.status == FAILED)
        console.print(f"[red]error:[/red] stage {failed} failed: "
                      f"{escape(record.stages[failed].detail)}", soft_wrap=True)
        raise typer.Exit(2)
    out.print(f"month {as_of} complete; record: {cycle.record_path(s.workspace, as_of)}")
