"""Wiring: settings in, a ready runtime out. Used by the two entrypoints, app.py and cli.py."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from sqlalchemy import Engine, insert, select, update

from bot.authoring.activities import parse_activity
from bot.authoring.district import DistrictConfig, load_district_file
from bot.authoring.inbox_config import promise_for, routing_for
from bot.core.audience import CHANNEL_PREFERENCE, AudienceRules, Group
from bot.core.detection import LanguageDetector, build_detector
from bot.core.formats import ExportFormat
from bot.core.inbox_report import InboxReport, inbox_report
from bot.core.keys import blocklist_key, participant_key
from bot.core.messages import Channel, InboundMessage, message_to_record, within_limits
from bot.core.quiet_hours import QuietHours, parse_quiet_hours
from bot.core.roster import MAX_STUDENTS_PER_PHONE, RosterRules
from bot.core.state import OnboardingStep, Program, School
from bot.errors import ConfigError, EngageError
from bot.logs import hide_in_logs
from bot.ports import (
    ChannelSender,
    DashboardSessions,
    DashboardStore,
    QueuedKind,
    SynthesisStore,
)
from bot.services.broadcasting import Broadcasting, BroadcastPolicy, parse_delay
from bot.services.idea_desk import IdeaDesk
from bot.services.inbound import Service, utcnow
from bot.services.inbound_queue import Drain, MessageBatches
from bot.services.inbox import Inbox
from bot.services.linking import LinkingService
from bot.services.organizers import (
    Broadcasts,
    EngageCommand,
    Organizers,
    PlannedBroadcasts,
    ProgressRow,
)
from bot.services.privacy import Privacy
from bot.services.roster import RosterImport
from bot.services.sender import OutboxSender, RunDb
from bot.services.staff_desk import SlackDesk
from bot.settings import Settings
from channels.slack import SlackChannel
from channels.telegram import TelegramChannel
from channels.twilio_sms import TwilioSms
from storage import models
from storage.broadcasts import BroadcastStore
from storage.channel_pauses import SqlChannelPauses
from storage.database import connect, is_sqlite
from storage.inbound_queue import SqlInboundQueue, sender_key
from storage.inbox import SqlInbox
from storage.linking import SqlLinkUnitOfWork
from storage.outbox import OutboxStore
from storage.privacy import SqlPrivacyStore
from storage.progress import activity_progress
from storage.send_rates import record_send_rates, send_rates_in_use
from storage.spool import Spool

if TYPE_CHECKING:
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler

__all__ = [
    "Runtime",
    "build_idea_desk",
    "build_inbox",
    "inbox_report_now",
    "export_inbox",
    "build_outbox_sender",
    "build_privacy",
    "build_slack_desk",
    "build_broadcasting",
    "build_drain",
    "build_roster_import",
    "build_runtime",
    "credential_fingerprints",
    "database_runner",
    "intake_runner",
    "district_config",
    "ensure_pseudonym_secret",
    "pseudonym_secret",
    "program_for",
    "quiet_hours_for",
    "send_rates",
    "sync_schools",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Single-word keywords Twilio answers itself on long codes (CHANNELS.md 1.5).
TWILIO_KEYWORDS = frozenset(
    {
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "START",
        "UNSTOP",
    }
)
# HELP and INFO are not in it: Twilio's own answer ("Reply STOP to unsubscribe. Msg&Data
# Rates May Apply.") names neither the program nor a contact, so the bot answers too.


@dataclass
class Runtime:
    """Everything a process needs, built once from settings."""

    settings: Settings
    engine: Engine
    district: DistrictConfig
    program: Program
    service: Service
    outbox: OutboxStore
    spool: Spool
    queue: SqlInboundQueue
    sms: TwilioSms | None = None
    telegram: TelegramChannel | None = None
    slack: SlackChannel | None = None
    senders: dict[Channel, ChannelSender] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.engine)

    async def close(self) -> None:
        if self.sms is not None:
            await self.sms.close()
        if self.telegram is not None:
            await self.telegram.close()
        if self.slack is not None:
            await self.slack.close()
        if self.queue.put_engine is not self.engine:
            self.queue.put_engine.dispose()
        self.engine.dispose()


# Values that were ever a documented default: anyone could reverse keys made with them.
KNOWN_SECRETS = frozenset({"", "change-me"})
SECRET_FILE_MODE = 0o600


def pseudonym_secret(settings: Settings) -> str:
    """The key of the pseudonymous keys exports print: ENGAGE_PSEUDONYM_SECRET, else the
    file `engage init` wrote (ENGAGE_PSEUDONYM_SECRET_FILE).

    Raises ConfigError when there is none, it is a known default, or its file can be
    read by other users: no export is made with a key anyone could guess or read.
    """
    if settings.pseudonym_secret is not None:
        secret = settings.pseudonym_secret.get_secret_value().strip()
        where = "ENGAGE_PSEUDONYM_SECRET"
    else:
        path = settings.pseudonym_secret_file
        try:
            mode = path.stat().st_mode
            secret = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise ConfigError(
                f"no pseudonym secret: run `engage init` (it writes one to {path}) "
                "or set ENGAGE_PSEUDONYM_SECRET"
            ) from None
        except OSError as error:
            raise ConfigError(f"cannot read the pseudonym secret {path}: {error}") from error
        if mode & 0o077:
            raise ConfigError(f"{path} can be read by other users: chmod 600 {path}")
        where = str(path)
    if secret in KNOWN_SECRETS or len(secret) < 16:
        raise ConfigError(
            f"the pseudonym secret in {where} is a default or too short (16 characters at "
            "least): unset it and run `engage init` to make a random one"
        )
    hide_in_logs([secret])
    return secret


def ensure_pseudonym_secret(settings: Settings) -> Path | None:
    """Write a random pseudonym secret to its file, readable by the owner only, unless
    ENGAGE_PSEUDONYM_SECRET is set or the file exists; the file written, if any."""
    path = settings.pseudonym_secret_file
    if settings.pseudonym_secret is not None or path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    return path


def _blocklist_key(settings: Settings) -> bytes | None:
    """The key of forgotten addresses' hashes; None before `engage init` made a secret
    (nobody can have been forgotten without one)."""
    try:
        return blocklist_key(pseudonym_secret(settings))
    except ConfigError as error:
        if settings.pseudonym_secret is not None or settings.pseudonym_secret_file.exists():
            # There is a secret, but it cannot be used: say so, or forgotten people
            # would silently be let back in.
            log.warning("privacy.blocklist_off", extra={"reason": str(error)})
        return None


def build_privacy(runtime: Runtime) -> Privacy:
    """Forget requests, keyed with the pseudonym secret (ConfigError without one)."""
    secret = pseudonym_secret(runtime.settings)
    return Privacy(
        SqlPrivacyStore(runtime.engine, ledger_key=secret.encode()),
        runtime.spool,
        parse_activity,
        lambda salt: participant_key(secret, salt),
        blocklist_key(secret),
        utcnow,
        region=runtime.settings.phone_region,
    )


def build_synthesis_store(runtime: Runtime) -> SynthesisStore:
    """What the synthesis pack, the board report and an exchange's report read."""
    # pandas, only when a report is made: `engage --help` stays quick.
    from storage.synthesis import SqlSynthesisStore

    return SqlSynthesisStore(runtime.engine)


def build_dashboard_ports(runtime: Runtime) -> tuple[DashboardStore, DashboardSessions]:
    """What the organizers' dashboard reads, and its sign-ins and sessions."""
    from storage.dashboard import SqlDashboardStore
    from storage.logins import SqlDashboardSessions

    return SqlDashboardStore(runtime.engine), SqlDashboardSessions(runtime.engine)


def district_file_in_use(settings: Settings) -> Path | None:
    """The district file named by ENGAGE_DISTRICT_FILE, else ./district.yaml if there is one."""
    if settings.district_file is not None:
        return settings.district_file
    here = Path("district.yaml")
    return here if here.is_file() else None


def district_config(settings: Settings) -> DistrictConfig:
    """The district file named by ENGAGE_DISTRICT_FILE, else ./district.yaml, else defaults."""
    path = district_file_in_use(settings)
    if path is not None:
        if not path.exists():
            raise ConfigError(
                f"ENGAGE_DISTRICT_FILE={path}: no such file in {Path.cwd()}; "
                "use the file's full path, or run the command in the folder that holds it"
            )
        return load_district_file(path)
    return DistrictConfig.default()


def program_for(district: DistrictConfig, settings: Settings) -> Program:
    provider_keywords = {Channel.SMS: TWILIO_KEYWORDS} if settings.twilio_handles_keywords else {}
    urgent = district.inbox.urgent
    return Program(
        name=district.program_name,
        contact=district.contact,
        contact_translations=dict(district.contact_translations),
        urgent_contact=dict(urgent.contact) if urgent is not None else {},
        emergency_number=urgent.emergency_number if urgent is not None else "911",
        languages=tuple(district.languages),
        default_language=district.default_language,
        roles=tuple(district.roles),
        schools=tuple(
            School(s.code, s.name, tuple(s.names.items()), tuple(s.aliases))
            for s in district.schools
        ),
        onboarding=tuple(OnboardingStep(s) for s in district.onboarding),
        skippable=frozenset(OnboardingStep(s) for s in district.skippable),
        provider_keywords=provider_keywords,
        first_activity=district.first_activity,
    )


def sync_schools(engine: Engine, district: DistrictConfig, now: datetime | None = None) -> int:
    """Insert or rename the district's schools; returns how many were added."""
    schools = models.table(models.School)
    now = now or utcnow()
    added = 0
    with engine.begin() as connection:
        known = {
            code: name for code, name in connection.execute(select(schools.c.code, schools.c.name))
        }
        for school in district.schools:
            if school.code not in known:
                connection.execute(
                    insert(schools), {"code": school.code, "name": school.name, "created_at": now}
                )
                added += 1
            elif known[school.code] != school.name:
                connection.execute(
                    update(schools).where(schools.c.code == school.code), {"name": school.name}
                )
    return added


def _detector(languages: list[str], kind: str) -> LanguageDetector | None:
    if kind == "off":
        return None
    try:
        return build_detector(languages, kind)
    except Exception as error:  # detection is a nicety; the bot runs without it
        log.warning("detection.off", extra={"error": str(error)})
        return None


def build_runtime(
    settings: Settings, *, detector: bool = True, busy_timeout: float = 2.0, **engine_options: Any
) -> Runtime:
    """Connect to the database and build the service, the outbox and the configured channels."""
    hide_in_logs(settings.secret_values())
    engine = connect(settings.database_url, busy_timeout=busy_timeout, **engine_options)
    district = district_config(settings)
    program = program_for(district, settings)
    # The service, with LINK by SMS and Telegram deep links handled before the engine.
    service = LinkingService(
        lambda: SqlLinkUnitOfWork(engine),
        program,
        _detector(list(district.languages), settings.language_detector) if detector else None,
    )
    service.forgotten_key = _blocklist_key(settings)
    service.timezone = ZoneInfo(district_zone(district, settings))
    runtime = Runtime(
        settings=settings,
        engine=engine,
        district=district,
        program=program,
        service=service,
        outbox=OutboxStore(engine),
        spool=Spool(settings.spool_dir),
        queue=SqlInboundQueue(engine, _put_engine(engine, settings, engine_options)),
    )
    if settings.twilio_enabled:
        assert settings.twilio_account_sid and settings.twilio_auth_token
        runtime.sms = TwilioSms(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            public_url=settings.public_url,
            api_base_url=settings.twilio_api_base_url,
            whatsapp_from=settings.twilio_whatsapp_from,
        )
        # One Twilio adapter serves both: WhatsApp numbers carry a `whatsapp:` prefix.
        if settings.sms_enabled:
            runtime.senders[Channel.SMS] = runtime.sms
        if settings.whatsapp_enabled:
            runtime.senders[Channel.WHATSAPP] = runtime.sms
    if settings.telegram_bot_token and settings.telegram_webhook_secret:
        runtime.telegram = TelegramChannel(
            settings.telegram_bot_token.get_secret_value(),
            settings.telegram_webhook_secret.get_secret_value(),
            settings.telegram_api_base_url,
            bot_username=settings.telegram_bot_username,
            per_chat_per_second=settings.telegram_chat_per_second,
        )
        runtime.senders[Channel.TELEGRAM] = runtime.telegram
        service.deep_link = runtime.telegram.deep_link
    if settings.slack_bot_token and settings.slack_signing_secret:
        runtime.slack = SlackChannel(
            settings.slack_bot_token.get_secret_value(),
            settings.slack_signing_secret.get_secret_value(),
            settings.slack_api_base_url,
        )
        runtime.senders[Channel.SLACK] = runtime.slack
    return runtime


def district_zone(district: DistrictConfig, settings: Settings) -> str:
    """The district's time zone: its file's, else ENGAGE_TIMEZONE, else the default."""
    if "timezone" not in district.model_fields_set and settings.timezone:
        return settings.timezone
    return district.timezone


SQLITE_BATCH_SECONDS = 0.025
POSTGRES_BATCH_SECONDS = 0.5

# How long a webhook waits for SQLite's lock before it parks the request in the spool.
PUT_BUSY_TIMEOUT = 0.5


def _put_engine(engine: Engine, settings: Settings, options: dict[str, Any]) -> Engine | None:
    """On SQLite, an engine for the webhooks' one write that waits less for the lock."""
    if not is_sqlite(engine) or engine.url.database in (None, "", ":memory:"):
        return None
    return connect(settings.database_url, busy_timeout=PUT_BUSY_TIMEOUT, **options)


def quiet_hours_for(runtime: Runtime) -> QuietHours | None:
    """ENGAGE_QUIET_HOURS (and ENGAGE_QUIET_HOURS_BY_STATE), kept in each family's time zone;
    the district's (ENGAGE_TIMEZONE if its file has none) where a family's is unknown."""
    settings = runtime.settings
    zone = district_zone(runtime.district, settings)
    return parse_quiet_hours(settings.quiet_hours, zone, settings.quiet_hours_by_state)


def send_rates(settings: Settings) -> dict[Channel, float]:
    """Sends per second per channel (ENGAGE_SMS_PER_SECOND and its siblings)."""
    return {
        Channel.SMS: settings.sms_per_second,
        Channel.TELEGRAM: settings.telegram_per_second,
        Channel.SLACK: settings.slack_per_second,
        Channel.WHATSAPP: settings.whatsapp_per_second,
    }


def build_broadcasting(runtime: Runtime, *, preview: bool = False) -> Broadcasting:
    """The organizers' broadcasts, with this process's channels, rates and quiet hours.

    `preview` (a dry run): with no channel configured here, count every channel's
    contacts as reachable, so an audience can be seen before any provider is set up.
    """
    settings, district = runtime.settings, runtime.district
    channels = tuple(c for c in CHANNEL_PREFERENCE if c in runtime.senders)
    rules = AudienceRules(
        languages=tuple(district.languages),
        default_language=district.default_language,
        roles=tuple(district.roles),
        channels=channels or (CHANNEL_PREFERENCE if preview else ()),
    )
    try:
        delay = parse_delay(settings.reminder_delay)
    except EngageError as error:
        raise ConfigError(f"ENGAGE_REMINDER_DELAY: {error}") from error
    policy = BroadcastPolicy(
        # Estimates use the rates the workers said they send at, else this process's.
        rates={**send_rates(settings), **send_rates_in_use(runtime.engine)},
        quiet_hours=quiet_hours_for(runtime),
        reminders=settings.reminders,
        max_reminders=settings.reminders_max,
        reminder_delay=delay,
    )
    store = BroadcastStore(runtime.engine)
    return Broadcasting(
        store,
        runtime.program,
        rules,
        policy,
        parse_activity,
        utcnow,
        flagged=_under_represented(runtime.engine),
    )


def _under_represented(engine: Engine) -> Callable[[str | None], list[Group]]:
    """The groups the representation check flags now, for the `under-represented` audience."""

    def flagged(activity: str | None) -> list[Group]:
        # pandas, only when someone asks for it: `engage --help` stays quick.
        from bot.synthesis.representation import under_represented_groups
        from storage.representation import SqlRepresentation

        return under_represented_groups(SqlRepresentation(engine), activity)

    return flagged


def intake_runner(runtime: Runtime) -> RunDb:
    """Runs the webhooks' one write in a thread; on SQLite one at a time, but not behind
    the other work of the process (`database_runner`): a webhook waits for the file's
    lock at most `PUT_BUSY_TIMEOUT`, never for the loops' queue."""
    import anyio
    from anyio import to_thread

    limiter = anyio.CapacityLimiter(1) if runtime.is_sqlite else None

    async def run_put(work: Callable[[], T]) -> T:
        return await to_thread.run_sync(work, limiter=limiter)

    return run_put


def database_runner(runtime: Runtime) -> RunDb:
    """Runs blocking database calls in a thread; on SQLite one at a time.

    SQLite has one writer: the process's own writers queue here instead of
    spinning on the file lock (its busy handler sleeps in growing steps).
    """
    import anyio
    from anyio import to_thread

    limiter = anyio.CapacityLimiter(1) if runtime.is_sqlite else None

    async def run_db(work: Callable[[], T]) -> T:
        return await to_thread.run_sync(work, limiter=limiter)

    return run_db


def credential_fingerprints(settings: Settings) -> dict[Channel, str]:
    """A fingerprint of each channel's configuration (never the secret itself).

    A channel paused because the provider refused one configuration does not hold
    a process started with another (the fixed one).
    """

    def secret(value: SecretStr | None) -> str:
        return value.get_secret_value() if value is not None else ""

    twilio = (
        settings.twilio_account_sid,
        secret(settings.twilio_auth_token),
        settings.twilio_from_number,
        settings.twilio_messaging_service_sid,
    )
    parts: dict[Channel, tuple[object, ...]] = {
        Channel.SMS: twilio,
        Channel.WHATSAPP: (*twilio, settings.twilio_whatsapp_from),
        Channel.TELEGRAM: (secret(settings.telegram_bot_token),),
        Channel.SLACK: (secret(settings.slack_bot_token),),
    }
    return {
        channel: hashlib.sha256(repr(values).encode()).hexdigest()[:16]
        for channel, values in parts.items()
    }


def build_roster_import(
    runtime: Runtime, region: str | None = None, max_students_per_phone: int | None = None
) -> RosterImport:
    """Roster and enrollment imports against this database, with the district's rules."""
    from storage.roster import SqlRosterUnitOfWork

    district, engine = runtime.district, runtime.engine
    rules = RosterRules(
        languages=tuple(district.languages),
        default_language=district.default_language,
        roles=tuple(district.roles),
        schools={s.code: s.name for s in district.schools},
        region=(region or runtime.settings.phone_region).upper(),
        max_students_per_phone=max_students_per_phone or MAX_STUDENTS_PER_PHONE,
    )
    return RosterImport(lambda: SqlRosterUnitOfWork(engine), rules, utcnow)


def report_send_rates(runtime: Runtime) -> None:
    """Tell broadcast previews the rates this worker sends its channels at."""
    rates = send_rates(runtime.settings)
    record_send_rates(
        runtime.engine, {c: rates[c] for c in runtime.senders if c in rates}, utcnow()
    )


def build_drain(runtime: Runtime, run_db: RunDb) -> Drain:
    """The engine on the inbound queue: message rows in batches (the Slack desk adds
    the replay of Slack's requests where it runs, bot.web.app)."""
    # On SQLite a batch holds the one writer's lock: short, so webhooks wait little.
    # On PostgreSQL nobody waits for it, and a longer batch shares one commit more.
    seconds = SQLITE_BATCH_SECONDS if runtime.is_sqlite else POSTGRES_BATCH_SECONDS
    batches = MessageBatches(
        runtime.queue, runtime.service.handle_once, utcnow, max_seconds=seconds
    )
    return Drain(runtime.queue, run_db, utcnow, {}, batches=batches)


def build_outbox_sender(runtime: Runtime, run_db: RunDb) -> OutboxSender:
    """The outbox sender for this process's channels, rates, quiet hours and lease."""
    settings = runtime.settings
    return OutboxSender(
        runtime.outbox,
        runtime.senders,
        utcnow,
        run_db=run_db,
        rates=send_rates(settings),
        quiet_hours=quiet_hours_for(runtime),
        lease=timedelta(seconds=settings.outbox_lease_seconds),
        pauses=SqlChannelPauses(runtime.engine),
        credentials=credential_fingerprints(settings),
    )


def build_inbox(runtime: Runtime, run_db: RunDb) -> Inbox | None:
    """The Let's Talk inbox, when Slack is set and there is a channel to post in.

    The district file's `inbox:` teams, or else SLACK_INBOX_CHANNEL, give the channels.
    """
    district = runtime.district
    routing = routing_for(
        district.inbox,
        tuple(district.languages),
        runtime.settings.slack_inbox_channel,
        district.contact,
        district.default_language,
    )
    if runtime.slack is None or routing is None:
        return None
    promise = promise_for(district.inbox, district.timezone)
    return Inbox(
        SqlInbox(runtime.engine, district.inbox.follow_up_within),
        runtime.slack,
        routing,
        promise,
        runtime.program,
        run_db,
        utcnow,
        translators=district.inbox.translators.channel,
        detector=runtime.service.detector,
    )


def build_idea_desk(runtime: Runtime, run_db: RunDb) -> IdeaDesk | None:
    """The Slack moderation channel for idea exchanges, when Slack and
    SLACK_MODERATION_CHANNEL are set."""
    from bot.services.idea_desk import IdeaDesk
    from bot.services.moderation import IdeaModeration
    from storage.moderation import SqlModerationUnitOfWork

    channel = runtime.settings.slack_moderation_channel
    if runtime.slack is None or not channel:
        return None
    engine, district = runtime.engine, runtime.district

    def new_uow() -> SqlModerationUnitOfWork:
        return SqlModerationUnitOfWork(engine)

    moderation = IdeaModeration(new_uow, utcnow, district.default_language)
    return IdeaDesk(
        moderation, new_uow, runtime.slack, channel, tuple(district.languages), run_db, utcnow
    )


def inbox_report_now(runtime: Runtime) -> InboxReport:
    """The inbox against the district's reply promise, now (Slack or not)."""
    promise = promise_for(runtime.district.inbox, runtime.district.timezone)
    return inbox_report(SqlInbox(runtime.engine).roots(), promise, utcnow())


def export_inbox(runtime: Runtime, path: Path, fmt: ExportFormat, actor: str) -> int:
    """Write the inbox table (bot.synthesis.inbox) to `path`; returns its rows.

    Pseudonymized with the export secret, like every export, and audited.
    """
    from bot.files.tables import write_table
    from bot.synthesis.inbox import inbox_table
    from storage.activities import record_audit

    now = utcnow()
    district = runtime.district
    frame = inbox_table(
        SqlInbox(runtime.engine).thread_records(),
        promise_for(district.inbox, district.timezone),
        pseudonym_secret(runtime.settings),
        district.timezone,
        now,
    )
    write_table(frame, path, fmt)
    record_audit(
        runtime.engine, actor, "inbox.export", {"rows": len(frame), "file": path.name}, now
    )
    return len(frame)


@dataclass
class SlackDeskWiring:
    """What Slack needs in the web app: the desk that works after the ack, Bolt's handler,
    and the loops that post to Slack (the inbox, the moderation channel)."""

    desk: SlackDesk
    handler: AsyncSlackRequestHandler
    inbox: Inbox | None
    # Runs a request the webhook recorded (bot.web.webhooks.slack), when the queue drains it.
    replay: Callable[[Mapping[str, object]], Awaitable[None]]
    ideas: IdeaDesk | None = None


def add_slack_replay(runtime: Runtime, run_db: RunDb, drain: Drain) -> None:
    """An engine running apart from the webhooks (`engage worker`) handles the Slack
    requests they recorded too; a message the desk makes of one goes into the queue,
    for this drain, like any other (a failure leaves the request to be tried again)."""
    queue = runtime.queue

    async def accept(message: InboundMessage) -> None:
        message = within_limits(message)
        sender = sender_key(message.channel, message.address)
        record = message_to_record(message)
        await run_db(
            lambda: queue.put(
                message.channel, message.provider_id, QueuedKind.MESSAGE, sender, record, utcnow()
            )
        )
        drain.wake()

    wiring = build_slack_desk(runtime, run_db, accept)
    if wiring is not None:
        drain.handlers[QueuedKind.SLACK] = wiring.replay


def build_slack_desk(
    runtime: Runtime,
    run_db: RunDb,
    accept: Callable[[InboundMessage], Awaitable[None]],
    broadcasts: Broadcasts | None = None,
) -> SlackDeskWiring | None:
    """The Slack desk and Bolt app, when Slack is configured.

    `broadcasts` serves `/engage broadcast` (by default, built from `runtime`).
    """
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler

    from channels.slack import build_bolt_app, replay_request

    slack, settings = runtime.slack, runtime.settings
    if slack is None or settings.slack_signing_secret is None:
        return None
    inbox = build_inbox(runtime, run_db)

    async def stats() -> Sequence[ProgressRow]:
        rows: Sequence[ProgressRow] = await run_db(lambda: activity_progress(runtime.engine))
        return rows

    commands = EngageCommand(
        Organizers(
            settings.slack_organizer_ids, settings.slack_organizer_group, slack.group_members
        ),
        stats=stats,
        broadcasts=broadcasts or PlannedBroadcasts(build_broadcasting(runtime)),
        inbox=inbox.summary if inbox is not None else None,
        run=run_db,
        clock=utcnow,
        inbox_channel=settings.slack_inbox_channel,
    )

    ideas = build_idea_desk(runtime, run_db)
    desk = SlackDesk(accept, slack, commands, inbox, ideas)
    bolt = build_bolt_app(
        slack,
        settings.slack_signing_secret.get_secret_value(),
        desk,
        workspace=settings.slack_team_id,
        spawn=desk.spawn,
    )
    recorded = build_bolt_app(
        slack,
        settings.slack_signing_secret.get_secret_value(),
        desk,
        workspace=settings.slack_team_id,
        replay=True,
    )

    async def replay(payload: Mapping[str, object]) -> None:
        body, content_type = str(payload["body"]), str(payload["content_type"])
        status = await replay_request(recorded, body.encode("utf-8"), content_type)
        if status >= 500:
            raise EngageError(f"the Slack request failed (Bolt answered {status})")

    return SlackDeskWiring(desk, AsyncSlackRequestHandler(bolt), inbox, replay, ideas)
