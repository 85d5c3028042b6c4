"""The ``assist`` command line: one Typer group per job, joined here (the composition root).

Commands are thin: they read settings, call the stage function, and print what it produced.
Errors the user can act on (:class:`assist.errors.AssistError`) are printed as one message
with exit code 2, never as a traceback (:func:`assist.cli.common.user_errors`).
"""

from __future__ import annotations

import typer

from assist.cli import (
    data,
    demo,
    identity,
    loop,
    meters,
    models,
    month,
    reports,
    score,
    serving,
    uplift,  # noqa: F401  (registers `assist report uplift`)
)

app = typer.Typer(
    name="assist",
    help="Precision social-assistance analytics: find households in hidden hardship.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for group in (data, models, score, month, loop, serving, reports, demo):
    app.add_typer(group.app)
app.add_typer(models.models, name="models")
app.add_typer(reports.report_app, name="report")
app.add_typer(serving.casebook, name="casebook")
app.add_typer(serving.users, name="users")
app.add_typer(serving.audit_log, name="audit-log")
app.add_typer(identity.app, name="identity")
app.add_typer(meters.app, name="meters")
