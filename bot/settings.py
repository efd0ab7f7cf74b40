"""Configuration: environment variables (and a `.env` file), read once by the entrypoints."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    """Every setting the project reads; see the configuration table in README.md."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite:///engage.db", validation_alias=_env("ENGAGE_DATABASE_URL"))
    public_url: str = Field("http://localhost:8000", validation_alias=_env("ENGAGE_PUBLIC_URL"))
    admin_token: SecretStr | None = Field(None, validation_alias=_env("ENGAGE_ADMIN_TOKEN"))
    district_file: Path | None = Field(None, validation_alias=_env("ENGAGE_DISTRICT_FILE"))
    # The key of the pseudonymous participant keys in exports; when unset, the file
    # below holds it (`engage init` writes a random one there, readable by the owner only).
    pseudonym_secret: SecretStr | None = Field(
        None, validation_alias=_env("ENGAGE_PSEUDONYM_SECRET")
    )
    pseudonym_secret_file: Path = Field(
        Path("pseudonym.key"), validation_alias=_env("ENGAGE_PSEUDONYM_SECRET_FILE")
    )
    # Public exports hide every count below this (docs/synthesis.md).
    suppression_threshold: int = Field(
        10, ge=1, validation_alias=_env("ENGAGE_SUPPRESSION_THRESHOLD")
    )
    spool_dir: Path = Field(Path("spool"), validation_alias=_env("ENGAGE_SPOOL_DIR"))
    # Addresses of the reverse proxies whose X-Forwarded-For is believed (comma-separated);
    # empty: none, every client is the address that connected.
    forwarded_allow_ips: str = Field("", validation_alias=_env("ENGAGE_FORWARDED_ALLOW_IPS"))
    sms_per_second: float = Field(1.0, validation_alias=_env("ENGAGE_SMS_PER_SECOND"))
    # Broadcasts (docs/broadcasts.md): SMS broadcasts wait out quiet hours, local time.
    quiet_hours: str = Field("20:00-08:00", validation_alias=_env("ENGAGE_QUIET_HOURS"))
    # A state's own window where its law is stricter: "TX=21:00-09:00,FL=20:00-08:00".
    quiet_hours_by_state: str = Field("", validation_alias=_env("ENGAGE_QUIET_HOURS_BY_STATE"))
    timezone: str | None = Field(None, validation_alias=_env("ENGAGE_TIMEZONE"))
    reminders: int = Field(1, ge=0, validation_alias=_env("ENGAGE_REMINDERS"))
    reminders_max: int = Field(3, ge=0, validation_alias=_env("ENGAGE_REMINDERS_MAX"))
    reminder_delay: str = Field("3d", validation_alias=_env("ENGAGE_REMINDER_DELAY"))
    phone_region: str = Field("US", validation_alias=_env("ENGAGE_PHONE_REGION"))
    # bot.core.detection.DETECTORS, or "off": which detector reads the language of free text.
    language_detector: Literal["words", "lingua", "off"] = Field(
        "words", validation_alias=_env("ENGAGE_LANGUAGE_DETECTOR")
    )
    # How long a claimed outbox row is a worker's before another may take it over.
    outbox_lease_seconds: float = Field(
        120.0, gt=0, validation_alias=_env("ENGAGE_OUTBOX_LEASE_SECONDS")
    )
    # Twilio answers STOP/HELP itself on long codes; set false with Advanced Opt-Out off.
    twilio_handles_keywords: bool = Field(True, validation_alias=_env("TWILIO_HANDLES_KEYWORDS"))

    twilio_account_sid: str | None = Field(None, validation_alias=_env("TWILIO_ACCOUNT_SID"))
    twilio_auth_token: SecretStr | None = Field(None, validation_alias=_env("TWILIO_AUTH_TOKEN"))
    twilio_from_number: str | None = Field(None, validation_alias=_env("TWILIO_FROM_NUMBER"))
    twilio_messaging_service_sid: str | None = Field(
        None, validation_alias=_env("TWILIO_MESSAGING_SERVICE_SID")
    )
    twilio_api_base_url: str | None = Field(None, validation_alias=_env("TWILIO_API_BASE_URL"))
    # The WhatsApp sender connected in Twilio (docs/channels.md); WhatsApp is off without it.
    twilio_whatsapp_from: str | None = Field(None, validation_alias=_env("TWILIO_WHATSAPP_FROM"))
    # WhatsApp allows 80 business-initiated messages a second per sender; stay well under.
    whatsapp_per_second: float = Field(20.0, validation_alias=_env("ENGAGE_WHATSAPP_PER_SECOND"))

    telegram_bot_token: SecretStr | None = Field(None, validation_alias=_env("TELEGRAM_BOT_TOKEN"))
    telegram_webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("TELEGRAM_WEBHOOK_SECRET")
    )
    telegram_api_base_url: str | None = Field(None, validation_alias=_env("TELEGRAM_API_BASE_URL"))

    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_api_base_url: str | None = Field(None, validation_alias=_env("SLACK_API_BASE_URL"))
    # Channel id (C…) where Let's Talk messages become threads staff reply in.
    slack_inbox_channel: str | None = Field(None, validation_alias=_env("SLACK_INBOX_CHANNEL"))
    slack_moderation_channel: str | None = Field(
        None, validation_alias=_env("SLACK_MODERATION_CHANNEL")
    )
    # Comma-separated Slack user ids (U…) who may broadcast and read the inbox.
    slack_organizers: str = Field("", validation_alias=_env("SLACK_ORGANIZERS"))
    slack_organizer_group: str | None = Field(None, validation_alias=_env("SLACK_ORGANIZER_GROUP"))
    # When set, events from any other workspace are acknowledged and ignored.
    slack_team_id: str | None = Field(None, validation_alias=_env("SLACK_TEAM_ID"))
    telegram_bot_username: str | None = Field(None, validation_alias=_env("TELEGRAM_BOT_USERNAME"))
    # Telegram allows about 30 messages a second overall; stay a little under.
    telegram_per_second: float = Field(25.0, validation_alias=_env("ENGAGE_TELEGRAM_PER_SECOND"))
    # And about one a second in any one chat (a short burst is tolerated); 0: no pacing.
    telegram_chat_per_second: float = Field(
        1.0, validation_alias=_env("ENGAGE_TELEGRAM_CHAT_PER_SECOND")
    )
    # Slack allows about one message a second per conversation, more across them.
    slack_per_second: float = Field(5.0, validation_alias=_env("ENGAGE_SLACK_PER_SECOND"))

    def secret_values(self) -> list[str]:
        """Every secret configured: tokens, signing secrets, keys, the database password."""
        values = [
            field.get_secret_value()
            for field in (getattr(self, name) for name in type(self).model_fields)
            if isinstance(field, SecretStr)
        ]
        password = urlsplit(self.database_url).password
        return [v for v in [*values, password] if v]

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token and self.telegram_webhook_secret)

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def slack_organizer_ids(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.slack_organizers.split(",") if u.strip())

    @property
    def sms_enabled(self) -> bool:
        has_sender = bool(self.twilio_from_number or self.twilio_messaging_service_sid)
        return self.twilio_enabled and has_sender

    @property
    def whatsapp_enabled(self) -> bool:
        return self.twilio_enabled and bool(self.twilio_whatsapp_from)

    @property
    def twilio_enabled(self) -> bool:
        has_sender = bool(
            self.twilio_from_number
            or self.twilio_messaging_service_sid
            or self.twilio_whatsapp_from
        )
        return bool(self.twilio_account_sid and self.twilio_auth_token and has_sender)
