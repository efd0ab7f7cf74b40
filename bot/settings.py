"""Configuration: environment variables (and a `.env` file), read once by the entrypoints."""

from __future__ import annotations

from pathlib import Path

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
    pseudonym_secret: SecretStr = Field(
        SecretStr("change-me"), validation_alias=_env("ENGAGE_PSEUDONYM_SECRET")
    )
    spool_dir: Path = Field(Path("spool"), validation_alias=_env("ENGAGE_SPOOL_DIR"))
    sms_per_second: float = Field(1.0, validation_alias=_env("ENGAGE_SMS_PER_SECOND"))
    # Twilio answers STOP/HELP itself on long codes; set false with Advanced Opt-Out off.
    twilio_handles_keywords: bool = Field(True, validation_alias=_env("TWILIO_HANDLES_KEYWORDS"))

    twilio_account_sid: str | None = Field(None, validation_alias=_env("TWILIO_ACCOUNT_SID"))
    twilio_auth_token: SecretStr | None = Field(None, validation_alias=_env("TWILIO_AUTH_TOKEN"))
    twilio_from_number: str | None = Field(None, validation_alias=_env("TWILIO_FROM_NUMBER"))
    twilio_messaging_service_sid: str | None = Field(
        None, validation_alias=_env("TWILIO_MESSAGING_SERVICE_SID")
    )
    twilio_api_base_url: str | None = Field(None, validation_alias=_env("TWILIO_API_BASE_URL"))

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

    @property
    def twilio_enabled(self) -> bool:
        has_sender = bool(self.twilio_from_number or self.twilio_messaging_service_sid)
        return bool(self.twilio_account_sid and self.twilio_auth_token and has_sender)
