"""`engage participant`: act on one person's data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.session import (
    actor,
    command_runtime,
    err,
    out,
)

if TYPE_CHECKING:
    pass


participant_app = typer.Typer(help="Act on one participant's data.", no_args_is_help=True)


@participant_app.command("forget")
def participant_forget(
    ctx: typer.Context,
    who: Annotated[str, typer.Argument(help="Phone number, participant id or pseudonym.")],
    delete_answers: Annotated[
        bool, typer.Option("--delete-answers", help="Delete their structured answers too.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Forget a person on request: contact details and their own words are removed.

    Structured answers stay (de-identified) unless --delete-answers; see docs/synthesis.md.

    Example: engage participant forget +15550100123
    """
    from bot.authoring.activities import parse_activity
    from bot.bootstrap import pseudonym_secret
    from bot.services.inbound import utcnow
    from storage.privacy import forget_participant

    runtime = command_runtime(ctx)
    if not yes:
        typer.confirm("Remove this person's contact details and words for good?", abort=True)
    report = forget_participant(
        runtime.engine,
        who,
        parse_activity,
        utcnow(),
        actor=actor(),
        keep_answers=not delete_answers,
        ledger_key=pseudonym_secret(runtime.settings).encode(),
    )
    again = " (already forgotten before)" if report.already_forgotten else ""
    out.print(
        f"{report.pseudonym} forgotten{again}: {report.contacts} contact(s), "
        f"{report.messages} message(s), {report.lets_talk} Let's Talk message(s) cleared; "
        f"{report.answers_deleted or report.answers_cleared} answer(s) "
        f"{'deleted' if delete_answers else 'kept without their words'}."
    )
    for thread in report.slack_threads:
        err.print(f"[yellow]Slack thread to delete by hand:[/yellow] {thread}", highlight=False)
