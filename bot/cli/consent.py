"""`engage consent`: who agreed to be texted, who refused, and when (the consent ledger)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from bot.cli.session import actor, command_runtime, err, out
from bot.core.messages import Channel
from bot.errors import EngageError

if TYPE_CHECKING:
    from storage.consent import LedgerEntry

consent_app = typer.Typer(
    help="The consent ledger: every opt-in, opt-out, HELP and consent, with its source.",
    no_args_is_help=True,
)

EXPORT_COLUMNS = (
    "event_id",
    "time_utc",
    "event",
    "source",
    "channel",
    "contact",
    "participant",
    "words",
    "code",
    "recorded_by",
    "message_id",
)


def _contact(entry: LedgerEntry) -> str:
    if entry.address is not None:
        return f"{entry.channel}:{entry.address}"
    if entry.address_hash is not None:
        return f"forgotten (hmac-sha256 {entry.address_hash})"
    return "forgotten"


@consent_app.command("export")
def consent_export(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(help="Only events from this local date or time on (2026-09-01)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the CSV here (default: stdout).")
    ] = None,
) -> None:
    """Write the whole ledger (or the part since a date) as CSV, for the district's records.

    One row per event, oldest first: time (UTC), event, source, channel, contact
    (a forgotten person's only as a keyed hash), participant pseudonym, the words
    used, the provider's code, who recorded it when it was not the family.

    Example: engage consent export --since 2026-09-01 -o consent-2026-09.csv
    """
    import csv
    import sys

    from bot.core.formats import inert
    from storage.consent import stream

    runtime = command_runtime(ctx)
    zone = ZoneInfo(runtime.district.timezone)
    start = _parse_since(since, zone) if since else None
    stream_out = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    rows = 0
    try:
        writer = csv.writer(stream_out)
        writer.writerow(EXPORT_COLUMNS)
        for entry in stream(runtime.engine, start):
            writer.writerow(
                (
                    entry.id,
                    entry.at.isoformat(sep=" ", timespec="seconds"),
                    entry.kind.value,
                    entry.source.value,
                    entry.channel,
                    _contact(entry),
                    entry.participant,
                    inert(entry.words or ""),
                    entry.code or "",
                    inert(entry.actor or ""),
                    entry.message_id or "",
                )
            )
            rows += 1
    finally:
        if output:
            stream_out.close()
    if output:
        err.print(f"{rows} consent event(s) written to {output}", highlight=False)


@consent_app.command("show")
def consent_show(
    ctx: typer.Context,
    who: Annotated[
        str, typer.Argument(help="Phone number, channel:address, participant id or pseudonym.")
    ],
) -> None:
    """Print one person's consent history, oldest first (also of a forgotten person,
    found by the phone number you give).

    Example: engage consent show +13125550101
    """
    from bot.bootstrap import pseudonym_secret
    from bot.services.privacy import ForgetError, find_participant
    from storage.consent import history
    from storage.privacy import SqlPrivacyUnitOfWork

    runtime = command_runtime(ctx)
    settings = runtime.settings
    key = pseudonym_secret(settings).encode()
    person: int | None
    with SqlPrivacyUnitOfWork(runtime.engine) as uow:
        try:
            person = find_participant(uow, who, settings.phone_region)
        except ForgetError:
            person = None
    with runtime.engine.connect() as connection:
        address = _address(who, settings.phone_region)
        entries = history(connection, participant_id=person, address=address, key=key)
    if not entries:
        raise EngageError(f"no consent events for {who}")
    zone = ZoneInfo(runtime.district.timezone)
    table = Table("when", "event", "source", "contact", "words", "recorded by")
    for entry in entries:
        local = entry.at.replace(tzinfo=UTC).astimezone(zone)
        table.add_row(
            local.strftime("%Y-%m-%d %H:%M:%S %Z"),
            entry.kind.value,
            entry.source.value + (f" {entry.code}" if entry.code else ""),
            _contact(entry) if entry.address else entry.channel + " (forgotten)",
            entry.words or "",
            entry.actor or "",
        )
    out.print(f"{entries[-1].participant}: {len(entries)} consent event(s)", highlight=False)
    out.print(table)


@consent_app.command("stop")
def consent_stop(
    ctx: typer.Context,
    who: Annotated[
        str, typer.Argument(help="Phone number, channel:address, participant id or pseudonym.")
    ],
    note: Annotated[str, typer.Option(help="What the family said, and how (kept in the ledger).")],
) -> None:
    """Record an opt-out a family asked for outside the bot (a call, a form at school):
    nothing more is sent to any of their contacts.

    Example: engage consent stop +13125550101 --note "called the front office"
    """
    from bot.core.consent import ConsentChange, ConsentKind, ConsentSource
    from bot.services.inbound import utcnow
    from bot.services.privacy import find_participant
    from storage.consent import record_staff_opt_out
    from storage.privacy import SqlPrivacyUnitOfWork

    runtime = command_runtime(ctx)
    change = ConsentChange(
        ConsentKind.OPT_OUT, ConsentSource.STAFF, words=note.strip() or None, actor=actor()
    )
    with SqlPrivacyUnitOfWork(runtime.engine) as uow:
        person = find_participant(uow, who, runtime.settings.phone_region)
    with runtime.engine.begin() as connection:
        contacts = record_staff_opt_out(connection, person, change, utcnow())
    out.print(f"Opted out: {contacts} contact(s); nothing more will be sent to them.")


def _parse_since(text: str, zone: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise EngageError(f"--since {text!r}: write a date like 2026-09-01") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).replace(tzinfo=None)


def _address(who: str, region: str) -> tuple[Channel, str] | None:
    """`who` as an address to look up in the ledger, when it is one."""
    import phonenumbers

    text = who.strip()
    channel, _, rest = text.partition(":")
    if rest and channel in {c.value for c in Channel}:
        return Channel(channel), rest
    if text.isdigit() and len(text) < 10 or text.upper().startswith("P-"):
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return Channel.SMS, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
