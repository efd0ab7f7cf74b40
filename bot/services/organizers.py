"""`/engage` in Slack: help and stats for staff; broadcasts and the inbox for organizers.

    /engage help
    /engage stats [ACTIVITY]
    /engage broadcast ACTIVITY [FILTER]     e.g. role=parent,school=lincoln-es (default: all)
    /engage pause ID | resume ID | cancel ID
    /engage inbox

A broadcast is never sent from the command itself: the answer shows who
would get it and asks for a Confirm tap, and the tap plans it again (the
numbers may have moved) before creating it. The button carries a nonce, so a
tap Slack delivers twice (or anyone replays) creates one broadcast, not two. Organizers are Slack user ids
(SLACK_ORGANIZERS) or members of a user group (SLACK_ORGANIZER_GROUP).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.messages import Choice, Reply
from bot.core.routing import mention
from bot.core.staff import InboxSummary
from bot.errors import EngageError, ProviderError
from bot.services.broadcasting import Broadcasting, Plan
from bot.services.sender import RunDb

__all__ = [
    "PlannedBroadcasts",
    "BroadcastPreview",
    "Broadcasts",
    "EngageCommand",
    "Organizers",
    "ProgressRow",
]

log = logging.getLogger(__name__)

CONFIRM = "broadcast:confirm:"
CANCEL = "broadcast:cancel"
HELP = (
    "*/engage* — the district engagement bot\n"
    "• `/engage stats [ACTIVITY]` — how many started, finished and answered\n"
    "• `/engage broadcast ACTIVITY [FILTER]` — organizers: preview, then confirm, a send "
    "(filters like `role=parent,school=lincoln-es,language=es`; default `all`)\n"
    "• `/engage pause ID`, `/engage resume ID`, `/engage cancel ID` — organizers: hold, "
    "go on with, or stop a broadcast (every worker, before its next message)\n"
    "• `/engage inbox` — organizers: open Let's Talk threads and response times\n"
    "Write to me here to take an activity yourself."
)
REFUSAL = (
    "Only organizers can {what}. If you should be one, ask the planning team to add "
    "your Slack user id ({user}) to SLACK_ORGANIZERS."
)


class ProgressRow(Protocol):
    """An activity's progress (bot.ports.ActivityProgress)."""

    @property
    def key(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def is_open(self) -> bool: ...
    @property
    def started(self) -> int: ...
    @property
    def completed(self) -> int: ...
    @property
    def answers(self) -> int: ...


@dataclass(frozen=True, slots=True)
class BroadcastPreview:
    """What an organizer sees before (and after) confirming a broadcast."""

    activity: str
    title: str
    audience: str
    reachable: int
    people: int
    opted_out: int = 0
    unreachable: int = 0
    by_channel: Mapping[str, int] = field(default_factory=dict)
    finishes_at: datetime | None = None
    warnings: tuple[str, ...] = ()
    broadcast_id: int | None = None
    # The confirmation had created it already (a repeated tap).
    again: bool = False


@dataclass(frozen=True, slots=True)
class BroadcastStatus:
    """Where a broadcast stands, as `engage broadcast status` shows it."""

    broadcast_id: int
    activity: str
    audience: str
    status: str
    queued: int
    sent: int
    delivered: int
    failed: int
    opted_out: int
    cancelled: int = 0
    paused: bool = False

    def counts(self) -> str:
        state = f"{self.status}, paused" if self.paused else self.status
        return (
            f"({state}): queued {self.queued} · sent {self.sent} · delivered {self.delivered} · "
            f"failed {self.failed} · opted out {self.opted_out} · cancelled {self.cancelled}"
        )


class Broadcasts(Protocol):
    """Planning and creating broadcasts (bot.services.broadcasting); raise EngageError with the reason."""

    def preview(self, activity: str, to: str) -> BroadcastPreview: ...

    def confirm(self, activity: str, to: str, actor: str, nonce: str) -> BroadcastPreview:
        """Create the broadcast; the one `nonce` created already, if it did (`again`)."""
        ...

    def recent(self, activity: str | None) -> Sequence[BroadcastStatus]:
        """The latest broadcasts (of `activity`, if given), newest first."""
        ...

    def pause(self, broadcast_id: int, actor: str) -> BroadcastStatus: ...

    def resume(self, broadcast_id: int, actor: str) -> BroadcastStatus: ...

    def cancel(self, broadcast_id: int, actor: str) -> BroadcastStatus: ...


class Organizers:
    """Who may broadcast and read the inbox."""

    def __init__(
        self,
        user_ids: frozenset[str],
        group: str | None = None,
        group_members: Callable[[str], Awaitable[frozenset[str]]] | None = None,
    ) -> None:
        self.user_ids = user_ids
        self.group = group
        self.group_members = group_members

    async def includes(self, user_id: str) -> bool:
        if user_id in self.user_ids:
            return True
        if self.group is None or self.group_members is None:
            return False
        try:
            return user_id in await self.group_members(self.group)
        except ProviderError as error:
            log.warning("organizers.group_unavailable", extra={"code": error.code})
            return False


def _ago(moment: datetime, now: datetime) -> str:
    return _duration(now - moment)


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // (24 * 60)} days"


class EngageCommand:
    """Answers `/engage …` with a Reply shown only to the person who typed it.

    `stats()` lists activities' progress; `broadcasts` is None while the
    broadcast module is not wired in; `inbox()` summarizes the inbox (None
    without an inbox channel); `thread_link(team_domain, ts)` links a thread.
    """

    def __init__(
        self,
        organizers: Organizers,
        stats: Callable[[], Awaitable[Sequence[ProgressRow]]],
        broadcasts: Broadcasts | None,
        inbox: Callable[[], Awaitable[InboxSummary]] | None,
        run: RunDb,
        clock: Callable[[], datetime],
        inbox_channel: str | None = None,
    ) -> None:
        self.organizers = organizers
        self.stats = stats
        self.broadcasts = broadcasts
        self.inbox = inbox
        self.run = run
        self.clock = clock
        self.inbox_channel = inbox_channel

    async def handle(self, user_id: str, text: str, team_domain: str | None = None) -> Reply:
        verb, _, rest = text.strip().partition(" ")
        match verb.lower():
            case "" | "help":
                return Reply(HELP)
            case "stats":
                return await self._stats(rest.strip())
            case "broadcast":
                if not await self.organizers.includes(user_id):
                    return Reply(REFUSAL.format(what="broadcast", user=user_id))
                return await self._preview(rest.strip())
            case "inbox":
                if not await self.organizers.includes(user_id):
                    return Reply(REFUSAL.format(what="see the inbox", user=user_id))
                return await self._inbox(team_domain)
            case "pause" | "resume" | "cancel":
                if not await self.organizers.includes(user_id):
                    return Reply(REFUSAL.format(what=f"{verb.lower()} broadcasts", user=user_id))
                return await self._control(verb.lower(), rest.strip(), user_id)
            case _:
                return Reply(f"I don't know `{verb}`.\n{HELP}")

    async def decide(self, user_id: str, payload: str) -> Reply:
        """A tap on Confirm or Cancel under a broadcast preview."""
        if payload == CANCEL:
            return Reply("Broadcast cancelled; nothing was sent.")
        if not payload.startswith(CONFIRM):
            return Reply("That button has expired.")
        if not await self.organizers.includes(user_id):
            return Reply(REFUSAL.format(what="broadcast", user=user_id))
        if self.broadcasts is None:
            return Reply("Broadcasting is not available on this server.")
        parts = payload.removeprefix(CONFIRM).split("|", 2)
        if len(parts) != 3 or not parts[0]:
            return Reply("That button has expired.")
        nonce, activity, to = parts
        broadcasts = self.broadcasts
        try:
            done = await self.run(
                lambda: broadcasts.confirm(activity, to, f"slack:{user_id}", nonce)
            )
        except EngageError as error:
            return Reply(f"Not sent: {error}")
        if done.again:
            return Reply(
                f"Broadcast #{done.broadcast_id} of *{done.title}* was already queued by this "
                "button; nothing more is sent."
            )
        log.info("organizers.broadcast", extra={"broadcast_id": done.broadcast_id})
        return Reply(
            f"Broadcast #{done.broadcast_id} of *{done.title}* is queued for "
            f"{done.reachable} people ({done.audience}). Follow it with "
            f"`engage broadcast status {done.broadcast_id}`."
        )

    async def _stats(self, key: str) -> Reply:
        rows = list(await self.stats())
        if key:
            rows = [row for row in rows if row.key == key]
            if not rows:
                known = ", ".join(f"`{r.key}`" for r in await self.stats()) or "none yet"
                return Reply(f"No activity named `{key}`. Activities: {known}.")
        if not rows:
            return Reply("No activities are loaded yet.")
        lines = [
            f"*{row.title}* (`{row.key}` v{row.version}, {'open' if row.is_open else 'closed'}): "
            f"{row.started} started, {row.completed} finished, {row.answers} answers"
            for row in rows
        ]
        if self.broadcasts is not None:
            broadcasts = self.broadcasts
            for sent in await self.run(lambda: broadcasts.recent(key or None)):
                lines.append(
                    f"Broadcast #{sent.broadcast_id} of `{sent.activity}` to `{sent.audience}` "
                    + sent.counts()
                )
        return Reply("\n".join(lines))

    async def _control(self, verb: str, rest: str, user_id: str) -> Reply:
        number = rest.removeprefix("#")
        if not number.isdigit():
            return Reply(f"Which broadcast? `/engage {verb} ID` (the number `stats` shows).")
        if self.broadcasts is None:
            return Reply("Broadcasting is not available on this server.")
        broadcasts, broadcast_id, actor = self.broadcasts, int(number), f"slack:{user_id}"
        act = {"pause": broadcasts.pause, "resume": broadcasts.resume, "cancel": broadcasts.cancel}
        try:
            done = await self.run(lambda: act[verb](broadcast_id, actor))
        except EngageError as error:
            return Reply(f"Not done: {error}")
        log.info(f"organizers.broadcast_{verb}", extra={"broadcast_id": broadcast_id})
        said = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}[verb]
        return Reply(f"Broadcast #{broadcast_id} {said} {done.counts()}")

    async def _preview(self, rest: str) -> Reply:
        activity, _, to = rest.partition(" ")
        to = to.strip().removeprefix("to ").strip() or "all"
        if not activity:
            return Reply("Which activity? `/engage broadcast ACTIVITY [FILTER]`")
        if self.broadcasts is None:
            return Reply("Broadcasting is not available on this server.")
        broadcasts = self.broadcasts
        try:
            plan = await self.run(lambda: broadcasts.preview(activity, to))
        except EngageError as error:
            return Reply(f"Cannot broadcast: {error}")
        channels = ", ".join(f"{n} by {c}" for c, n in sorted(plan.by_channel.items()))
        lines = [
            f"*{plan.title}* to {plan.audience}: *{plan.reachable} people* ({channels}).",
            f"Not reachable: {plan.opted_out} opted out, {plan.unreachable} unreachable.",
        ]
        if plan.finishes_at is not None:
            lines.append(f"Sending would finish around {plan.finishes_at:%Y-%m-%d %H:%M} UTC.")
        lines.extend(f"⚠ {w}" for w in plan.warnings)
        lines.append("Nothing is sent until you confirm.")
        # A fresh nonce per preview: one Confirm, one broadcast, however often it is tapped.
        payload = f"{CONFIRM}{secrets.token_urlsafe(9)}|{plan.activity}|{to}"
        choices = (
            Choice("confirm", f"Send to {plan.reachable}", payload),
            Choice("cancel", "Cancel", CANCEL),
        )
        return Reply("\n".join(lines), choices)

    async def _inbox(self, team_domain: str | None) -> Reply:
        if self.inbox is None:
            return Reply("The Let's Talk inbox is off: set SLACK_INBOX_CHANNEL.")
        summary = await self.inbox()
        now = self.clock()
        head = f"*Let's Talk inbox*: {summary.open} open, {summary.unanswered} without a reply"
        if summary.oldest_open is not None:
            head += f"; oldest {_ago(summary.oldest_open, now)} ago"
        lines = [head + "."]
        if summary.promise_decided:
            share = summary.within_promise / summary.promise_decided
            lines.append(
                f"Answered within the reply promise: {share:.0%} ({summary.within_promise} "
                f"of {summary.promise_decided}); {summary.overdue} open past it."
            )
        if summary.median_first_response is not None:
            lines.append(
                f"Median time to a first reply (last 30 days, {summary.answered_last_30_days} "
                f"threads): {_duration(summary.median_first_response)}."
            )
        for item in summary.items:
            where = item.text if len(item.text) <= 80 else item.text[:79] + "…"
            link = self._link(team_domain, item.thread_channel, item.thread_ts)
            who = f"{item.pseudonym} · {item.school or 'no school'} · {item.channel}"
            if item.claimed_by or item.owner:
                who += f" · {mention(item.claimed_by or item.owner or '')}"
            lines.append(f"• {who}, {_ago(item.created_at, now)} ago: {where} {link}".rstrip())
        return Reply("\n".join(lines))

    @staticmethod
    def _link(team_domain: str | None, channel: str | None, ts: str | None) -> str:
        if not (team_domain and channel and ts):
            return ""
        return f"https://{team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"


class PlannedBroadcasts:
    """Broadcasting as the /engage command uses it: plan, then confirm."""

    def __init__(self, broadcasting: Broadcasting) -> None:
        self.broadcasting = broadcasting

    def preview(self, activity: str, to: str) -> BroadcastPreview:
        return _preview(self.broadcasting.plan(activity, to))

    def confirm(self, activity: str, to: str, actor: str, nonce: str) -> BroadcastPreview:
        key = f"slack:{nonce}"
        done = self.broadcasting.confirmed(key)
        if done is not None:
            return replace(self._existing(done, activity), again=True)
        # Planned again: the numbers the organizer confirmed may have moved since.
        plan = self.broadcasting.plan(activity, to)
        created = self.broadcasting.confirm(plan, actor, request_key=key)
        return _preview(plan, created)

    def _existing(self, broadcast_id: int, activity: str) -> BroadcastPreview:
        record = self.broadcasting.store.get(broadcast_id)
        audience = str(record.audience) if record is not None else ""
        total = record.total if record is not None else 0
        title = (record.activity_key if record is not None else None) or activity
        return BroadcastPreview(
            activity=activity,
            title=title,
            audience=audience,
            reachable=total,
            people=total,
            broadcast_id=broadcast_id,
        )

    def recent(self, activity: str | None, limit: int = 5) -> list[BroadcastStatus]:
        found = []
        for record in self.broadcasting.latest(50):
            if activity is not None and record.activity_key != activity:
                continue
            found.append(self._status(record.id))
            if len(found) == limit:
                break
        return found

    def pause(self, broadcast_id: int, actor: str) -> BroadcastStatus:
        self.broadcasting.pause(broadcast_id, actor)
        return self._status(broadcast_id)

    def resume(self, broadcast_id: int, actor: str) -> BroadcastStatus:
        self.broadcasting.resume(broadcast_id, actor)
        return self._status(broadcast_id)

    def cancel(self, broadcast_id: int, actor: str) -> BroadcastStatus:
        self.broadcasting.cancel(broadcast_id, actor)
        return self._status(broadcast_id)

    def _status(self, broadcast_id: int) -> BroadcastStatus:
        record = self.broadcasting.record(broadcast_id)
        progress = self.broadcasting.status(broadcast_id)
        return BroadcastStatus(
            broadcast_id=broadcast_id,
            activity=(record.activity_key if record else None) or "",
            audience=str(record.audience) if record else "",
            status=progress.status,
            queued=progress.queued + progress.sending,
            sent=progress.sent,
            delivered=progress.delivered,
            failed=progress.failed + progress.undelivered,
            opted_out=progress.opted_out,
            cancelled=progress.cancelled,
            paused=progress.paused,
        )


def _preview(plan: Plan, broadcast_id: int | None = None) -> BroadcastPreview:
    counts = plan.counts
    return BroadcastPreview(
        activity=plan.activity_key,
        title=plan.title,
        audience=str(plan.audience),
        reachable=counts.reachable,
        people=counts.people,
        opted_out=counts.opted_out,
        unreachable=counts.unreachable,
        by_channel=dict(counts.by_channel),
        finishes_at=plan.estimate.finishes_at,
        warnings=plan.warnings,
        broadcast_id=broadcast_id,
    )
