"""What staff do in Slack, routed: DMs to the engine, thread replies and Resolved to the
inbox, `/engage` and its buttons to the organizers' commands.

Implements channels.slack.SlackHandlers. Bolt has already answered Slack when
these run; `spawn` keeps that work on a task set the server waits for at
shutdown, so a message acknowledged to Slack is not dropped by a restart.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol

from bot.core.messages import InboundMessage, Reply
from bot.core.moderation import IdeaTap
from bot.core.staff import StaffProfile, StaffReply
from bot.errors import ProviderError
from bot.ports import StaffDirectory
from bot.services.idea_desk import IdeaDesk
from bot.services.inbox import Inbox
from bot.services.organizers import EngageCommand

__all__ = ["SlackDesk"]

log = logging.getLogger(__name__)

LETS_TALK = "lets_talk:"
ITEM_ACTION = re.compile(r"^lets_talk:(resolve|claim):(\d+)$")
REASSIGN = re.compile(r"^lets_talk:(\d+):reassign:([UW][A-Z0-9]+)$")
RELEASE = re.compile(r"^lets_talk:(send|note):(\S+)$")
BROADCAST = "broadcast:"


class SlashCommandLike(Protocol):
    @property
    def user_id(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def team_domain(self) -> str | None: ...


class SlackDesk:
    """Routes Slack requests, after their ack.

    `accept` hands a message to the service (as the webhooks do), with the
    writer's Slack name and locale: the engine makes a first-time writer a staff
    participant in the same transaction as their message.
    """

    def __init__(
        self,
        accept: Callable[[InboundMessage], Awaitable[None]],
        directory: StaffDirectory,
        commands: EngageCommand,
        inbox: Inbox | None = None,
        ideas: IdeaDesk | None = None,
    ) -> None:
        self.accept = accept
        self.directory = directory
        self.commands = commands
        self.inbox = inbox
        self.ideas = ideas
        self._profiles: dict[str, StaffProfile] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- channels.slack.SlackHandlers ------------------------------------------------

    async def message(self, message: InboundMessage) -> None:
        profile = await self._profile(message.address)
        await self.accept(
            replace(
                message,
                locale_hint=message.locale_hint or (profile.locale if profile else None),
                sender_name=profile.name if profile else None,
            )
        )

    async def tap(self, message: InboundMessage) -> Reply | None:
        payload = message.button or ""
        if payload.startswith(LETS_TALK):
            return await self._inbox_tap(payload, message.address)
        if payload.startswith(BROADCAST):
            return await self.commands.decide(message.address, payload)
        await self.message(message)
        return None

    async def _inbox_tap(self, payload: str, user: str) -> Reply | None:
        """Claim, Reassign, Resolved on a thread; Send anyway / Keep as a note on a held reply."""
        if self.inbox is None:
            return None
        if match := ITEM_ACTION.match(payload):
            action, number = match.groups()
            if action == "resolve":
                await self.inbox.resolve(int(number), user)
            else:
                await self.inbox.claim(int(number), user)
        elif match := REASSIGN.match(payload):
            number, to = match.groups()
            await self.inbox.reassign(int(number), to, user)
        elif match := RELEASE.match(payload):
            choice, provider_id = match.groups()
            return Reply(await self.inbox.release(provider_id, user, send=choice == "send"))
        return None

    async def thread_reply(self, reply: StaffReply) -> None:
        if self.inbox is not None:
            await self.inbox.reply(reply)

    async def moderate(self, tap: IdeaTap) -> None:
        if self.ideas is not None:
            await self.ideas.moderate(tap)

    async def command(self, command: SlashCommandLike) -> Reply:
        return await self.commands.handle(command.user_id, command.text, command.team_domain)

    # -- work after the ack ----------------------------------------------------------

    def spawn(self, work: Awaitable[None]) -> None:
        """Run `work` on a task the server waits for at shutdown."""
        task = asyncio.ensure_future(self._logged(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait (a while) for work still under way."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    @staticmethod
    async def _logged(work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:  # after the ack nobody else would hear of it
            log.exception("slack.work_failed")

    async def _profile(self, user_id: str) -> StaffProfile | None:
        """Their Slack profile (name, locale), looked up once."""
        if user_id in self._profiles:
            return self._profiles[user_id]
        try:
            profile: StaffProfile | None = await self.directory.profile(user_id)
        except ProviderError as error:
            log.warning("slack.profile_unavailable", extra={"code": error.code})
            return None
        if profile is not None:
            self._profiles[user_id] = profile
        return profile
