"""`engage init` and connecting the providers."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from bot.cli.session import (
    initialize,
    open_runtime,
    out,
)
from bot.errors import EngageError


def init() -> None:
    """Create or upgrade the database, load the district's schools, and make the secret
    the keys in exports are made with (pseudonym.key, unless ENGAGE_PSEUDONYM_SECRET is set).

    Example: ENGAGE_DISTRICT_FILE=examples/district.yaml engage init
    """
    from bot.bootstrap import ensure_pseudonym_secret

    runtime = open_runtime(create=True)
    initialize(runtime)
    out.print(f"Database ready: {runtime.engine.url.render_as_string(hide_password=True)}")
    written = ensure_pseudonym_secret(runtime.settings)
    if written is not None:
        out.print(
            f"Pseudonym secret written to {written} (owner only): keep it and back it up; "
            "export keys stay the same while it does"
        )
    out.print(
        f"Schools: {len(runtime.district.schools)}; languages: {', '.join(runtime.district.languages)}"
    )


telegram_app = typer.Typer(help="Connect the Telegram bot.", no_args_is_help=True)


@telegram_app.command("set-webhook")
def telegram_set_webhook(
    url: Annotated[
        str | None, typer.Option(help="Webhook URL (default: ENGAGE_PUBLIC_URL/webhooks/telegram).")
    ] = None,
) -> None:
    """Tell Telegram to post updates here, signed with TELEGRAM_WEBHOOK_SECRET.

    Example: ENGAGE_PUBLIC_URL=https://bot.district.example.org engage telegram set-webhook
    """
    runtime = open_runtime(database=False)
    telegram = runtime.telegram
    if telegram is None:
        raise EngageError("Telegram is off: set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET")
    target = url or runtime.settings.public_url.rstrip("/") + "/webhooks/telegram"

    async def register() -> None:
        try:
            await telegram.register_webhook(target)
        finally:
            await runtime.close()

    asyncio.run(register())
    out.print(f"Telegram will post updates to {target}")
