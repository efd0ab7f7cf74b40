"""Wiring: settings in, a ready runtime out. Used by the two entrypoints, app.py and cli.py."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from bot.authoring.activities import parse_activity
from bot.authoring.district import DistrictConfig, load_district_file
from bot.core.detection import LanguageDetector, build_detector
from bot.core.messages import Channel
from bot.core.quiet_hours import QuietHours, parse_quiet_hours
from bot.core.state import OnboardingStep, Program, School
from bot.errors import ConfigError, EngageError
from bot.ports import ChannelSender
from bot.services.broadcasting import Broadcasting, BroadcastPolicy, parse_delay
from bot.services.inbound import Service, utcnow
from bot.services.linking import LinkingService
from bot.settings import Settings
from channels.slack import SlackChannel
from channels.telegram import TelegramChannel
from channels.twilio_sms import TwilioSms
from storage import models
from storage.audience import CHANNEL_PREFERENCE, AudienceRules
from storage.database import connect, is_sqlite
from storage.linking import SqlLinkUnitOfWork
from storage.outbox import OutboxStore
from storage.spool import Spool

__all__ = [
    "Runtime",
    "build_broadcasting",
    "build_runtime",
    "district_config",
    "program_for",
    "quiet_hours_for",
    "send_rates",
    "sync_schools",
]

log = logging.getLogger(__name__)

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
        "HELP",
        "INFO",
    }
)


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
        self.engine.dispose()


def district_config(settings: Settings) -> DistrictConfig:
    """The district file named by ENGAGE_DISTRICT_FILE, else ./district.yaml, else defaults."""
    path = settings.district_file or Path("district.yaml")
    if settings.district_file is not None or path.is_file():
        return load_district_file(path)
    return DistrictConfig.default()


def program_for(district: DistrictConfig, settings: Settings) -> Program:
    provider_keywords = {Channel.SMS: TWILIO_KEYWORDS} if settings.twilio_handles_keywords else {}
    return Program(
        name=district.program_name,
        contact=district.contact,
        languages=tuple(district.languages),
        default_language=district.default_language,
        roles=tuple(district.roles),
        schools=tuple(School(s.code, s.name) for s in district.schools),
        onboarding=tuple(OnboardingStep(s) for s in district.onboarding),
        skippable=frozenset(OnboardingStep(s) for s in district.skippable),
        provider_keywords=provider_keywords,
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
    engine = connect(settings.database_url, busy_timeout=busy_timeout, **engine_options)
    district = district_config(settings)
    program = program_for(district, settings)
    # The service, with LINK by SMS and Telegram deep links handled before the engine.
    service = LinkingService(
        lambda: SqlLinkUnitOfWork(engine),
        program,
        _detector(list(district.languages), settings.language_detector) if detector else None,
    )
    runtime = Runtime(
        settings=settings,
        engine=engine,
        district=district,
        program=program,
        service=service,
        outbox=OutboxStore(engine),
        spool=Spool(settings.spool_dir),
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
        )
        runtime.senders[Channel.SMS] = runtime.sms
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


def quiet_hours_for(runtime: Runtime) -> QuietHours | None:
    """ENGAGE_QUIET_HOURS in the district's time zone (ENGAGE_TIMEZONE if its file has none)."""
    district, settings = runtime.district, runtime.settings
    zone = district.timezone
    if "timezone" not in district.model_fields_set and settings.timezone:
        zone = settings.timezone
    return parse_quiet_hours(settings.quiet_hours, zone)


def send_rates(settings: Settings) -> dict[Channel, float]:
    """Sends per second per channel (ENGAGE_SMS_PER_SECOND and its siblings)."""
    return {
        Channel.SMS: settings.sms_per_second,
        Channel.TELEGRAM: settings.telegram_per_second,
        Channel.SLACK: settings.slack_per_second,
    }


def build_broadcasting(runtime: Runtime) -> Broadcasting:
    """The organizers' broadcasts, with this process's channels, rates and quiet hours."""
    settings, district = runtime.settings, runtime.district
    rules = AudienceRules(
        languages=tuple(district.languages),
        default_language=district.default_language,
        roles=tuple(district.roles),
        channels=tuple(c for c in CHANNEL_PREFERENCE if c in runtime.senders),
    )
    try:
        delay = parse_delay(settings.reminder_delay)
    except EngageError as error:
        raise ConfigError(f"ENGAGE_REMINDER_DELAY: {error}") from error
    policy = BroadcastPolicy(
        rates=send_rates(settings),
        quiet_hours=quiet_hours_for(runtime),
        reminders=settings.reminders,
        max_reminders=settings.reminders_max,
        reminder_delay=delay,
    )
    return Broadcasting(runtime.engine, runtime.program, rules, policy, parse_activity, utcnow)
