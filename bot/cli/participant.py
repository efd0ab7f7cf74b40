"""`engage participant`: act on one person's data."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.session import (
    actor,
    command_runtime,
    err,
    out,
)

participant_app = typer.Typer(help="Act on one participant's data.", no_args_is_help=True)


@participant_app.command("forget")
def participant_forget(
    ctx: typer.Context,
    who: Annotated[
        str,
        typer.Argument(help="Phone number, channel:address, participant id, P-… or export key."),
    ],
    delete_answers: Annotated[
        bool, typer.Option("--delete-answers", help="Delete their structured answers too.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Forget a person on request: contact details and their own words are removed.

    Structured answers stay (de-identified) unless --delete-answers; see docs/synthesis.md.

    Example: engage participant forget +15550100123

    Example: engage participant forget 9f86d081884c7d65   (the key an export printed)
    """
    from bot.bootstrap import build_privacy

    runtime = command_runtime(ctx)
    privacy = build_privacy(runtime)
    if not yes:
        typer.confirm("Remove this person's contact details and words for good?", abort=True)
    report = privacy.forget(who, actor=actor(), keep_answers=not delete_answers)
    again = " (already forgotten before)" if report.already_forgotten else ""
    out.print(
        f"{report.pseudonym} forgotten{again}: {report.contacts} contact(s), "
        f"{report.messages} message(s), {report.lets_talk} Let's Talk message(s) cleared "
        f"({report.lets_talk_closed} open closed), {report.ideas} idea(s), "
        f"{report.spooled} parked message(s) deleted; "
        f"{report.answers_deleted or report.answers_cleared} answer(s) "
        f"{'deleted' if delete_answers else 'kept without their words'}. "
        "A late message from their number or handle is dropped."
    )
    if not report.wiped:
        err.print(
            "[yellow]warning:[/yellow] the database's write-ahead log still holds old copies: "
            "run the command again when the server is quiet",
            highlight=False,
        )
    for thread in report.slack_threads:
        err.print(f"[yellow]Slack thread to delete by hand:[/yellow] {thread}", highlight=False)
