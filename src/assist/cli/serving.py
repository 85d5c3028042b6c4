"""Serving commands of the ``assist`` CLI: serve, casebook (users and audit-log live in
:mod:`assist.cli.admin`, re-exported here).

Joined into the ``assist`` app by :mod:`assist.cli.app`. Heavy imports stay inside the commands so
the CLI starts fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assist.cli.admin import DEMO_USERS, audit_log, case_store_session, users
from assist.cli.common import console, load_settings, month_option, out, user_errors

if TYPE_CHECKING:
    from assist.settings import Settings

__all__ = ["DEMO_USERS", "Loaded", "app", "audit_log", "case_store_session", "casebook",
           "load_current", "load_month", "users"]

@dataclass(frozen=True)
class Loaded:
    """What loading a month into the case store did."""

    as_of: str
    #: "loaded" (a new month), "replaced" (another revision) or "already loaded"
    status: str
    revision: str
    previous: str | None
    counts: dict[str, int]
    #: decisions on the month's referrals, and on households the revision no longer lists
    decided: dict[str, int]

    def message(self) -> str:
        """One line for the console."""
        what = {"replaced": f"replaced {self.previous} by {self.revision}"}.get(
            self.status, f"{self.revision} {self.status}")
        kept = (f"; {self.decided['decisions']:,} decisions kept attached "
                f"({self.decided['delisted']:,} on households no longer listed)"
                if self.status == "replaced" else "")
        return (f"snapshot {self.as_of}: {what} ({self.counts['households']:,} households, "
                f"{self.counts['referrals']:,} referrals{kept})")


def load_month(s: Settings, *, as_of: str | None = None) -> Loaded:
    """Load a month's snapshot (default: the current one) into the store at ``s.db_url``: its
    present revision; a month loaded with another revision is replaced, decisions kept."""
    from sqlalchemy import select

    from assist.features import CATALOG
    from assist.serving.models import Snapshot
    from assist.serving.services.snapshots import counts, decided, load_snapshot
    from assist.storage import snapshot

    as_of = snapshot.current(s.scores_dir) if as_of is None else as_of
    summary = snapshot.read_summary(s.scores_dir, as_of)
    with case_store_session(s) as session:
        loaded = session.scalars(select(Snapshot).where(Snapshot.as_of == as_of)).first()
        previous = None if loaded is None else snapshot.revision_of(loaded.summary or {})
        changed = loaded is None or snapshot.revision_key(loaded.summary or {}) != \
            snapshot.revision_key(summary)  # else: no need to read the tables
        if changed:
            files = snapshot.read_snapshot(s.scores_dir, as_of)
            loaded, changed = load_snapshot(session, as_of=as_of, summary=files.summary,
                                            scores=files.scores, referrals=files.referrals,
                                            indicator_ids=CATALOG.ids)
        status = ("already loaded" if not changed else "loaded" if previous is None
                  else "replaced")
        revision = snapshot.revision_of(loaded.summary or {})
        return Loaded(as_of=as_of, status=status, revision=revision, previous=previous,
                      counts=counts(session, loaded), decided=decided(session, loaded))


def load_current(s: Settings, *, as_of: str | None = None) -> tuple[str, bool, dict[str, int]]:
    """Load a scoring snapshot (default: the current one) into the store at ``s.db_url``;
    returns the month, whether the store changed (loaded or replaced), and counts."""
    res = load_month(s, as_of=as_of)
    return res.as_of, res.status != "already loaded", res.counts


app = typer.Typer()
casebook = typer.Typer(help="The case store: migrate, load snapshots, export labels.",
                       no_args_is_help=True)


#: what ``assist serve --workers N`` says when N > 1 on a SQLite store
SQLITE_WORKERS_WARNING = (
    "SQLite is single-writer: {workers} workers share one write lock (every API read writes "
    "an audit entry), so they queue behind each other; use PostgreSQL for several workers "
    "(ASSIST_DATABASE_URL=postgresql+psycopg://...)")


@app.command()
@user_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help=(
        "API worker processes (uvicorn), each with its own audit group commit and up to 50 "
        "store connections. Several workers need PostgreSQL to scale: SQLite is single-writer, "
        "so with SQLite they run but queue on its one write lock (a warning says so)."))] = 1,
    load: Annotated[bool, typer.Option(help="Load the current scoring snapshot first.")] = True,
) -> None:
    """Run the API (migrating the store and loading the current snapshot first)."""
    import uvicorn

    from assist.serving.db import upgrade
    from assist.storage import snapshot

    s = load_settings()
    s.api_token_secret()  # refuse a default secret before binding
    if workers > 1 and s.db_url.startswith("sqlite"):
        console.print(f"[yellow]warning:[/yellow] {SQLITE_WORKERS_WARNING.format(workers=workers)}",
                      soft_wrap=True)
    upgrade(s.db_url)
    if load and snapshot.has_current(s.scores_dir):
        out.print(load_month(s).message())
    out.print(f"serving on http://{host}:{port}/api/v1 (docs: /api/v1/docs) with {workers} "
              f"worker{'s' if workers > 1 else ''}")
    uvicorn.run("assist.serving.app:from_environment", factory=True, host=host, port=port,
                workers=workers, access_log=False, log_level="warning")

@casebook.command("migrate")
@user_errors
def migrate() -> None:
    """Create or upgrade the case-store schema (Alembic)."""
    from assist.serving.db import upgrade

    s = load_settings()
    upgrade(s.db_url)
    out.print(f"case store at head: {_redact(s.db_url)}")

@casebook.command("load")
@user_errors
def load_cmd(as_of: Annotated[str | None, typer.Option(callback=month_option,
        help="Snapshot month YYYY-MM (default: the current one).")] = None) -> None:
    """Load a scoring snapshot into the case store: the revision its files name present; a
    month loaded with another revision is replaced, decisions kept on their households."""
    out.print(load_month(load_settings(), as_of=as_of).message())

@casebook.command("export-labels")
@user_errors
def export_labels(out_file: Annotated[Path, typer.Option(
        "--out", help="CSV or Parquet for data.extra_labels of an experiment config.")]) -> None:
    """Write recorded decisions as training labels: each labels the features its referral was
    scored on (referral_month); unreachable, declined and pending outcomes are written too
    (training counts and drops them)."""
    from assist.serving.services.decisions import decisions_as_labels
    from assist.storage.casebook import write_labels

    with case_store_session(load_settings()) as session:
        labels = decisions_as_labels(session)
    write_labels(labels, out_file)
    informative = int(labels["outcome"].isin(["confirmed", "not_in_need"]).sum())
    months = ", ".join(sorted(set(labels["referral_month"]))) or "none"
    out.print(f"{len(labels):,} decisions ({informative:,} confirmed or not in need) of "
              f"referral months {months}: {out_file} (set data.extra_labels to use them)")

@casebook.command("export-decisions")
@user_errors
def export_decisions(out_file: Annotated[Path | None, typer.Option(
        "--out", help="Parquet file (default <workspace>/casebook/decisions.parquet, where "
                      "`assist score` reads it).")] = None) -> None:
    """Write the decisions snapshot that scoring carries forward (recorded decisions and
    allocated referrals still pending); scoring never reads the live case store."""
    from assist.serving.services.decisions import decisions_snapshot
    from assist.storage.casebook import DECISIONS_FILE, write_decisions

    s = load_settings()
    with case_store_session(s) as session:
        frame = decisions_snapshot(session)
    path = write_decisions(frame, out_file or s.workspace / "casebook" / DECISIONS_FILE)
    per = ", ".join(f"{k} {v:,}" for k, v in frame["outcome"].value_counts().sort_index().items())
    out.print(f"{len(frame):,} decisions ({per or 'none'}): {path}")


@casebook.command("overrides")
@user_errors
def overrides_cmd(
    as_of: Annotated[str | None, typer.Option(callback=month_option,
        help="Month of the referrals (default: the latest loaded snapshot).")] = None,
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Also write the overriding decisions as CSV here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON report.")] = False,
) -> None:
    """Override report (by street, band and group) to <workspace>/reports/<as_of>/overrides."""
    from assist.errors import InputError
    from assist.reports.cases import overrides_html
    from assist.reports.report import report_folder, write_report
    from assist.serving.errors import ApiError
    from assist.serving.services import reports
    from assist.serving.services.decisions import overrides
    from assist.serving.services.snapshots import current_snapshot

    s = load_settings()
    with case_store_session(s) as session:
        if as_of is None:
            snap = current_snapshot(session)
            if snap is None:
                raise InputError("no snapshot is loaded: run `assist casebook load` first")
            as_of = snap.as_of
        try:
            rep = reports.overrides(session, as_of=as_of,
                                    attributes=reports.month_attributes(s, as_of))
        except ApiError as exc:  # e.g. no snapshot of that month
            raise InputError(exc.message) from None
        df = overrides(session) if out_file else None
    paths = write_report(report_folder(s.workspace, as_of), "overrides", rep,
                         overrides_html(rep))
    if df is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out_file, index=False, encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(rep, ensure_ascii=False, allow_nan=False))
        return
    total = next((r for r in rep["rows"] if r["slice"] == "(all)"), None)
    rate = "undefined" if not total or total["override_rate"] is None else \
        f"{total['override_rate']:.1%}"
    out.print(f"{rep['decisions']:,} decisions on {as_of} referrals, {rep['overrides']:,} "
              f"overrides ({rate}); report: {paths[1]}")
    if df is not None:
        out.print(f"{len(df):,} overriding decisions: {out_file}")

@casebook.command("contests")
@user_errors
def contests_cmd(
    corrections: Annotated[bool, typer.Option(
        "--corrections", help="List the contests decided 'data corrected': the household, the "
                              "disputed indicators and their source tables, for the department "
                              "extract owner.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Households' contests (PIPL art. 24): counts by street and status, or the corrections."""
    from assist.reports.cases import contests_summary
    from assist.serving.services.contests import contests_frame
    from assist.serving.services.contests import corrections as correction_list

    with case_store_session(load_settings()) as session:
        rows = correction_list(session) if corrections else None
        summary = None if corrections else contests_summary(contests_frame(session))
    if as_json:
        typer.echo(json.dumps(rows if corrections else summary, ensure_ascii=False))
        return
    if rows is not None:
        out.print(f"{len(rows):,} contests decided 'data corrected'")
        for r in rows:
            out.print(f"contest {r['contest_id']}  {r['street_code']}  {r['household_id']}  "
                      f"indicators: {', '.join(r['indicators']) or '-'}  "
                      f"tables: {', '.join(r['tables']) or '-'}  decided {r['decided_at']}")
        return
    totals = summary["totals"]
    out.print(f"{totals['contests']:,} contests: " + ", ".join(
        f"{k} {totals[k]:,}" for k in summary["statuses"]))
    for r in summary["streets"]:
        out.print(f"  {r['street']}: " + ", ".join(f"{k} {r[k]:,}" for k in summary["statuses"]))


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
