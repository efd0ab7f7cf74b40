"""The organizers' dashboard at `/`: how the round is going and whose voices are missing.

Server-rendered HTML with inline CSS and inline SVG charts: it works on a
district network with no internet access. Behind the admin token
(ENGAGE_ADMIN_TOKEN): the sign-in form posts the token once and gets a signed
session cookie (HMAC keyed by the token, so changing the token signs everyone
out) naming a session row, which signing out revokes on every server. A wrong
token answers 401. After `MAX_FAILURES` wrong tokens from one address within
`FAILURE_WINDOW`, each further attempt from it waits before its token is
checked (`login_delay`: 1 s, then 2, 4, … up to `MAX_DELAY`), so guessing
slows to a crawl, yet the right token is never refused: an organizer behind
the same network address as a guesser still gets in. Attempts are counted in
the database, atomically, so every server process sees the same count.
Without a token configured the dashboard is off (`/` answers 404), never open.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import pandas as pd
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.core.inbox_report import InboxReport
from bot.core.promise import ReplyPromise
from bot.core.setup_problems import WHAT_HAPPENS, explain
from bot.core.versions import Parse
from bot.errors import RepresentationError
from bot.ports import (
    ActivityProgress,
    BroadcastLine,
    ChannelPause,
    DashboardSessions,
    DashboardStore,
    FollowUp,
    FunnelStep,
    LetsTalkSummary,
    QueueDepth,
)
from bot.synthesis.representation import (
    Representation,
    measure_representation,
    plan_follow_up,
)
from bot.web.dashboard.charts import Segment, columns, horizontal_bars, stacked_bars
from bot.web.dashboard.exchange import ExchangeView, gather_exchange, render_exchange
from bot.web.dashboard.inbox import gather_inbox, render_inbox_report
from bot.web.dashboard.lists import render_broadcasts
from bot.web.dashboard.results import Results, activity_results, render_results, version_of
from bot.web.requests import LIMITS, BodyTooLarge, read_form_pairs, too_large

__all__ = [
    "Dashboard",
    "DashboardConfig",
    "SessionSigner",
    "dashboard_off_routes",
    "dashboard_routes",
    "login_delay",
]

log = logging.getLogger(__name__)
RunDb = Callable[[Callable[[], Any]], Awaitable[Any]]

COOKIE = "engage_session"
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
MAX_DELAY = 30.0
HSTS = "max-age=31536000"
DAYS = 30
# A message waiting longer than this for the engine is news for the organizers.
BEHIND_SECONDS = 60
UTC = ZoneInfo("UTC")
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
BADGE = '<span class="badge warn">under-represented</span>'
PROBLEMS = {
    "none": "No group is under-represented right now: nothing to follow up.",
    "enrollment": "Import enrollment first: engage enrollment import FILE.",
    "csrf": "That form had expired. Please try again.",
}


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    """What the dashboard needs from settings and the district file, as plain values."""

    admin_token: str
    timezone: str = "UTC"
    program: str = "District Engage"
    secure_cookie: bool = False
    session_hours: int = 12
    # The district's reply promise: the inbox section measures threads against it.
    promise: ReplyPromise | None = None
    # Results per question hide counts under this, as public packs do.
    threshold: int = 10


def login_delay(failures: int) -> float:
    """Seconds an attempt waits after `failures` wrong tokens from its address."""
    if failures < MAX_FAILURES:
        return 0.0
    return min(MAX_DELAY, 2.0 ** (failures - MAX_FAILURES))


class SessionSigner:
    """Signed, expiring session values naming a session row (bot.ports.DashboardSessions)."""

    def __init__(self, admin_token: str, hours: int) -> None:
        self._key = hmac.new(admin_token.encode(), b"engage-dashboard-session", hashlib.sha256)
        self._token = admin_token.encode()
        self.hours = hours

    def _mac(self, message: str) -> str:
        digest = self._key.copy()
        digest.update(message.encode())
        return digest.hexdigest()

    def is_token(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._token)

    def issue(self, now: datetime) -> tuple[str, str, datetime]:
        """A new session: (cookie value, session id, when it expires)."""
        expires_at = now + timedelta(hours=self.hours)
        session_id = secrets.token_urlsafe(24)
        body = f"{int(expires_at.replace(tzinfo=UTC).timestamp())}.{session_id}"
        return f"{body}.{self._mac('session:' + body)}", session_id, expires_at

    def session_id(self, value: str | None, now: datetime) -> str | None:
        """The session a cookie names, if it is signed and not expired."""
        if not value or value.count(".") != 2:
            return None
        body, _, mac = value.rpartition(".")
        if not hmac.compare_digest(mac, self._mac("session:" + body)):
            return None
        expires, _, session_id = body.partition(".")
        if not expires.isdigit() or int(expires) <= now.replace(tzinfo=UTC).timestamp():
            return None
        return session_id

    def csrf(self, session: str) -> str:
        return self._mac("csrf:" + session)[:32]


def _page(title: str, body: str, *, refresh: bool = False) -> str:
    template = (resources.files("bot.web.dashboard") / "templates" / "dashboard.html").read_text(
        "utf-8"
    )
    return Template(template).substitute(
        title=escape(title),
        body=body,
        refresh='<meta http-equiv="refresh" content="60">' if refresh else "",
    )


def _login_page(config: DashboardConfig, problem: str = "") -> str:
    notice = f'<p class="error" id="login-error">{escape(problem)}</p>' if problem else ""
    body = f"""
<main class="login"><section>
<h2>{escape(config.program)}: organizers</h2>
{notice}
<form method="post" action="/login">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit" id="sign-in">Sign in</button>
</form>
<p class="muted">The token is ENGAGE_ADMIN_TOKEN on the server.</p>
</section></main>"""
    return _page(f"Sign in: {config.program}", body)


# -- what the page shows -----------------------------------------------------------


@dataclass
class Overview:
    activities: list[ActivityProgress]
    selected: ActivityProgress | None
    funnel: list[FunnelStep]
    per_day: pd.Series
    representation: Representation | None
    representation_problem: str
    inbox: LetsTalkSummary
    plans: list[FollowUp]
    pauses: list[ChannelPause] = field(default_factory=list)
    exchange: ExchangeView | None = None
    inbox_promise: InboxReport | None = None
    results: Results | None = None
    broadcasts: list[BroadcastLine] = field(default_factory=list)
    inbound: QueueDepth | None = None


def latest_answered(progress: Sequence[ActivityProgress]) -> ActivityProgress | None:
    """The activity with the newest answer, open ones first; with no answers yet, the
    first open activity (or the first of all)."""
    answered = [a for a in progress if a.last_answer_at is not None]
    if answered:
        return max(answered, key=lambda a: (a.is_open, a.last_answer_at))
    return next((a for a in progress if a.is_open), progress[0] if progress else None)


def gather(
    store: DashboardStore,
    parse: Parse,
    activity_key: str | None,
    timezone: str,
    now: datetime,
    promise: ReplyPromise | None = None,
    threshold: int = 10,
) -> Overview:
    """Everything the dashboard shows for `activity_key` (by default, the activity
    answered most recently: what an organizer is following)."""
    progress = store.progress()
    selected = next((a for a in progress if a.key == activity_key), None)
    if selected is None and activity_key is None:
        selected = latest_answered(progress)
    key = selected.key if selected else None
    representation, problem = None, ""
    if selected is not None:
        try:
            representation = measure_representation(store.representation, key)
        except RepresentationError as error:
            problem = str(error)
    exchange = None
    if selected is not None and key is not None and selected.kind == "exchange":
        definition = store.versions(key, parse)[-1].activity
        exchange = gather_exchange(store, definition)
    results = None
    if selected is not None and key is not None and selected.kind != "exchange":
        version = version_of(selected.answers, selected.last_answer_at)
        results = activity_results(store, parse, key, timezone, threshold, version)
    return Overview(
        exchange=exchange,
        results=results,
        broadcasts=store.recent_broadcasts(),
        activities=progress,
        selected=selected,
        funnel=store.funnel(key, parse) if key else [],
        per_day=store.answers_per_day(key, timezone, DAYS, now),
        representation=representation,
        representation_problem=problem,
        inbox=store.lets_talk_summary(),
        plans=store.representation.follow_up_plans(),
        pauses=store.pauses(),
        inbox_promise=gather_inbox(store, promise, now) if promise is not None else None,
        inbound=store.inbound_depth(now),
    )


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return "—"
    return moment.replace(tzinfo=UTC).astimezone(zone).strftime("%b %d, %H:%M")


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "—"


def _tiles(overview: Overview) -> str:
    selected = overview.selected
    tiles = []
    if selected is not None:
        tiles += [
            ("started", selected.started, "people started"),
            ("completed", selected.completed, "completed"),
            ("answers", selected.answers, "answers"),
        ]
    tiles.append(("inbox-open", overview.inbox.open, "Let's Talk open"))
    if overview.inbound is not None:
        tiles.append(("inbound-queued", overview.inbound.pending, "messages being answered"))
    if overview.representation is not None:
        tiles.append(
            (
                "gaps",
                len(overview.representation.under_represented),
                "under-represented groups",
            )
        )
    return (
        '<div class="tiles">'
        + "".join(
            f'<div class="tile" id="tile-{name}"><div class="number">{value:,}</div>'
            f'<div class="label">{escape(label)}</div></div>'
            for name, value, label in tiles
        )
        + "</div>"
    )


def _counts(overview: Overview, zone: ZoneInfo) -> str:
    if not overview.activities:
        return (
            '<section id="counts"><h2>Activities</h2><p class="muted">No activity loaded yet: '
            "<code>engage activity load FILE</code>.</p></section>"
        )
    rows = []
    for a in overview.activities:
        link = f"/?{urlencode({'activity': a.key})}"
        state = (
            '<span class="badge">open</span>' if a.is_open else '<span class="muted">closed</span>'
        )
        rows.append(
            f'<tr data-activity="{escape(a.key)}"><td><a href="{escape(link)}">{escape(a.key)}</a>'
            f'<div class="muted">{escape(a.title)}</div></td><td>{escape(a.kind)}</td>'
            f"<td>{state}</td>"
            f'<td class="n" data-field="started">{a.started:,}</td>'
            f'<td class="n" data-field="completed">{a.completed:,}</td>'
            f'<td class="n">{_share(a.completed, a.started)}</td>'
            f'<td class="n" data-field="answers">{a.answers:,}</td>'
            f"<td>{_local(a.last_answer_at, zone)}</td></tr>"
        )
    return (
        '<section id="counts"><h2>Live counts per activity</h2><table><thead><tr>'
        "<th>activity</th><th>kind</th><th></th><th class=n>started</th>"
        "<th class=n>completed</th><th class=n>completion</th><th class=n>answers</th>"
        "<th>last answer</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
    )


def _funnel(overview: Overview) -> str:
    if overview.selected is None:
        return ""
    steps = overview.funnel
    if not steps:
        return '<section id="funnel"><h2>Completion funnel</h2><p class="muted">No questions.</p></section>'
    started = overview.selected.started
    chart = stacked_bars(
        [(s.question, (s.answered, s.skipped, s.unparsed)) for s in steps],
        (
            Segment("answered", "#2f6f9f"),
            Segment("skipped", "#c98b2b"),
            Segment("not understood", "#b5473a"),
        ),
        "Completion funnel: people per question",
        maximum=max([started] + [s.reached for s in steps]) or 1,
    )
    rows = "".join(
        f'<tr data-question="{escape(s.question)}"><td>{escape(s.question)}'
        f'<div class="muted">{escape(s.prompt)}</div></td>'
        f'<td class="n" data-field="reached">{s.reached:,}</td>'
        f'<td class="n">{_share(s.reached, started)}</td>'
        f'<td class="n" data-field="answered">{s.answered:,}</td>'
        f'<td class="n">{s.skipped:,}</td><td class="n">{s.unparsed:,}</td></tr>'
        for s in steps
    )
    return (
        f'<section id="funnel"><h2>Completion funnel: {escape(overview.selected.key)}</h2>'
        f'<p class="muted">{started:,} people started; each row is how many reached a question.</p>'
        f"{chart}<table><thead><tr><th>question</th><th class=n>reached</th>"
        "<th class=n>of started</th><th class=n>answered</th><th class=n>skipped</th>"
        f"<th class=n>not understood</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _over_time(overview: Overview) -> str:
    series = overview.per_day
    total = int(series.sum())
    scope = overview.selected.key if overview.selected else "all activities"
    chart = columns(
        [(day.strftime("%b %d"), float(count)) for day, count in series.items()],
        f"Answers per day, last {DAYS} days",
    )
    return (
        f'<section id="over-time"><h2>Answers over time: {escape(scope)}</h2>'
        f'<p class="muted"><span id="answers-30d">{total:,}</span> answers in the last '
        f"{DAYS} days (district time).</p>{chart}</section>"
    )


def _representation(overview: Overview, csrf: str) -> str:
    selected = overview.selected
    if selected is None:
        return ""
    if overview.representation is None:
        return (
            '<section id="representation"><h2>Whose voices are missing</h2>'
            f'<p class="muted">{escape(overview.representation_problem)}</p></section>'
        )
    report = overview.representation
    table = report.frame(("school", "language"))
    rows = []
    bars = []
    flags = []
    for record in table.itertuples(index=False):
        flag = bool(record.under_represented)
        rate = record.response_rate if pd.notna(record.response_rate) else 0.0
        shown_rate = "nobody yet" if record.respondents == 0 else f"{rate:.1%}"
        rows.append(
            f'<tr class="{"flag" if flag else ""}" data-group="{escape(record.school)}/'
            f'{escape(record.language)}"><td>{escape(record.school)}</td>'
            f"<td>{escape(record.language)}</td>"
            f'<td class="n">{record.enrolled:,}</td>'
            f'<td class="n" data-field="respondents">{record.respondents:,}</td>'
            f'<td class="n">{shown_rate}</td><td class="n">{record.gap:,}</td>'
            f"<td>{BADGE if flag else ''}</td></tr>"
        )
        bars.append((f"{record.school} · {record.language}", float(rate)))
        flags.append(flag)
    chart = horizontal_bars(
        bars,
        "Response rate by school and language",
        reference=report.rate,
        reference_label=f"{report.school or 'district'} {report.rate:.1%}",
        percent=True,
        highlight=flags,
    )
    groups = report.under_represented
    if groups:
        listed = ", ".join(
            f"{g.group.school}/{g.group.language}/{g.group.role}" for g in groups[:12]
        ) + (" …" if len(groups) > 12 else "")
        action = f"""
<form method="post" action="/follow-up" id="follow-up-form">
<input type="hidden" name="csrf" value="{escape(csrf)}">
<input type="hidden" name="activity" value="{escape(selected.key)}">
<p>{len(groups)} under-represented group(s): <span class="muted">{escape(listed)}</span></p>
<button type="submit" id="follow-up">Plan a follow-up to these {len(groups)} group(s)</button>
</form>"""
    else:
        action = '<p class="muted">No group is under-represented.</p>'
    rule = (
        f"A group is under-represented when its response rate is below "
        f"{report.ratio:.0%} of the district-wide rate ({report.rate:.1%})."
    )
    unmatched = (
        f" {report.unmatched:,} respondents have a school, language or role not in enrollment."
        if report.unmatched
        else ""
    )
    return (
        '<section id="representation"><h2>Whose voices are missing</h2>'
        f'<p class="muted">{escape(rule + unmatched)}</p>{chart}'
        "<table><thead><tr><th>school</th><th>language</th><th class=n>enrolled</th>"
        "<th class=n>respondents</th><th class=n>rate</th><th class=n>gap</th><th></th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>{action}</section>"
    )


def _plans(overview: Overview, zone: ZoneInfo) -> str:
    if not overview.plans:
        return ""
    items = []
    for plan in overview.plans:
        filters = "".join(f"<li><code>{escape(f)}</code></li>" for f in plan.filters[:20])
        items.append(
            f'<li data-plan="{plan.id}"><strong>{escape(plan.activity)}</strong>: '
            f"{len(plan.groups)} group(s), {plan.audience:,} people to reach "
            f'<span class="muted">({escape(plan.requested_by)}, '
            f"{_local(plan.requested_at, zone)})</span>"
            f"<details><summary>audience filters for <code>engage broadcast</code></summary>"
            f"<ul>{filters}</ul></details></li>"
        )
    return (
        '<section id="follow-ups"><h2>Follow-ups planned</h2>'
        '<p class="muted">A plan sends nothing by itself: broadcast it to each audience below.</p>'
        f"<ul>{''.join(items)}</ul></section>"
    )


def _inbox(overview: Overview, zone: ZoneInfo, now: datetime) -> str:
    inbox = overview.inbox
    median = (
        f"{inbox.median_hours_to_first_reply:.1f} h"
        if inbox.median_hours_to_first_reply is not None
        else "—"
    )
    oldest = "—"
    if inbox.oldest_open_at is not None:
        hours = (now - inbox.oldest_open_at).total_seconds() / 3600
        oldest = f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.0f} h"
    languages = ", ".join(f"{escape(k)}: {v}" for k, v in inbox.by_language.items()) or "—"
    latest = "".join(
        f'<li><span class="muted">{escape(item["pseudonym"])} · {escape(item["school"])} · '
        f"{escape(item['language'])} · {_local(item['created_at'], zone)}</span>"
        f"<blockquote>{escape(_clip(item['text']))}</blockquote></li>"
        for item in inbox.latest_open
    )
    return (
        '<section id="inbox"><h2>Let\'s Talk inbox</h2><table><tbody>'
        f'<tr><td>open</td><td class="n" data-field="open">{inbox.open:,}</td></tr>'
        f'<tr><td>waiting for a first reply</td><td class="n">{inbox.awaiting_first_reply:,}</td></tr>'
        f'<tr><td>resolved</td><td class="n">{inbox.resolved:,}</td></tr>'
        f'<tr><td>median time to first reply</td><td class="n">{median}</td></tr>'
        f'<tr><td>oldest open</td><td class="n">{oldest}</td></tr>'
        f'<tr><td>open by language</td><td class="n">{languages}</td></tr>'
        f"</tbody></table><ul>{latest}</ul></section>"
    )


def _results_key(overview: Overview) -> str | None:
    selected = overview.selected
    return selected.key if selected is not None and selected.kind != "exchange" else None


def _clip(text: str, length: int = 160) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def render_dashboard(
    overview: Overview,
    config: DashboardConfig,
    csrf: str,
    now: datetime,
    notice: str = "",
    problem: str = "",
) -> str:
    """The whole page for `overview`."""
    zone = ZoneInfo(config.timezone)
    nav = "".join(
        f'<a href="/?{escape(urlencode({"activity": a.key}))}" '
        f'class="{"current" if overview.selected and a.key == overview.selected.key else ""}">'
        f"{escape(a.key)}</a>"
        for a in overview.activities
    )
    header = f"""
<header><h1>{escape(config.program)}</h1><nav>{nav}</nav>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{escape(csrf)}">
<button class="quiet" type="submit">Sign out</button></form></header>"""
    messages = ""
    if notice:
        messages += f'<div class="notice" id="notice">{escape(notice)}</div>'
    if problem:
        messages += f'<div class="error" id="problem">{escape(problem)}</div>'
    for pause in overview.pauses:
        messages += (
            f'<div class="error" id="paused-{escape(pause.channel.value)}">'
            f"<strong>{escape(pause.channel.value.upper())} is paused</strong> since "
            f"{_local(pause.since, zone)}: {escape(explain(pause.channel, pause.code))} "
            f"{escape(WHAT_HAPPENS)}</div>"
        )
    inbound = overview.inbound
    if inbound is not None and inbound.oldest_seconds is not None:
        if inbound.oldest_seconds >= BEHIND_SECONDS:
            messages += (
                f'<div class="error" id="inbound-behind"><strong>Replies are behind</strong>: '
                f"{inbound.pending:,} messages wait, the oldest for "
                f"{inbound.oldest_seconds:,.0f} seconds. Nothing is lost; start another "
                "<code>engage worker</code> (PostgreSQL) or check the server's log.</div>"
            )
    if inbound is not None and inbound.parked:
        messages += (
            f'<div class="error" id="inbound-parked"><strong>{inbound.parked:,} messages '
            "could not be handled</strong> and were set aside with their error "
            "(<code>inbound_queue</code>, status <code>parked</code>).</div>"
        )
    body = (
        header
        + "<main>"
        + messages
        + _tiles(overview)
        + _counts(overview, zone)
        + (render_exchange(overview.exchange) if overview.exchange is not None else "")
        + _representation(overview, csrf)
        + _plans(overview, zone)
        + _funnel(overview)
        + render_results(overview.results, _results_key(overview))
        + _over_time(overview)
        + render_broadcasts(overview.broadcasts, zone, now)
        + _inbox(overview, zone, now)
        + (
            render_inbox_report(overview.inbox_promise, zone)
            if overview.inbox_promise is not None
            else ""
        )
        + f'<p class="muted">Updated {_local(now, zone)} ({escape(config.timezone)}); '
        "the page refreshes every minute.</p></main>"
    )
    return _page(config.program, body, refresh=True)


# -- routes -----------------------------------------------------------------------


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@dataclass
class Dashboard:
    """What the dashboard's routes share, built once (bot/web/app.py) from the ports
    bot/bootstrap.py wires, and found by each request (`dashboard_of`)."""

    store: DashboardStore
    sessions: DashboardSessions
    parse: Parse
    config: DashboardConfig
    run_db: RunDb
    clock: Callable[[], datetime]
    signer: SessionSigner = field(init=False)
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.signer = SessionSigner(self.config.admin_token, self.config.session_hours)
        # On https, browsers are told to come back on https only.
        secure = {"Strict-Transport-Security": HSTS} if self.config.secure_cookie else {}
        self.headers = {**HEADERS, **secure}

    def html(self, content: str, status: int = 200, **more: str) -> HTMLResponse:
        return HTMLResponse(content, status_code=status, headers={**self.headers, **more})

    def redirect(self, url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303, headers=self.headers)

    async def session_of(self, request: Request) -> str | None:
        """The id of the request's live session: signed, not expired, not signed out."""
        now = self.clock()
        session = self.signer.session_id(request.cookies.get(COOKIE), now)
        if session is None:
            return None
        live: bool = await self.run_db(lambda: self.sessions.is_live_session(session, now))
        return session if live else None


def dashboard_of(request: Request) -> Dashboard:
    """The dashboard the app was built with (its routes exist only when it is on)."""
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


async def home(request: Request) -> Response:
    dash = dashboard_of(request)
    session = await dash.session_of(request)
    if session is None:
        return dash.redirect("/login")
    config, now = dash.config, dash.clock()
    activity = request.query_params.get("activity") or None
    overview: Overview = await dash.run_db(
        lambda: gather(
            dash.store, dash.parse, activity, config.timezone, now, config.promise, config.threshold
        )
    )
    notice = problem = ""
    if activity is not None and overview.selected is None:
        problem = f"No activity named {activity!r}."
    planned = request.query_params.get("planned", "")
    plan = next((p for p in overview.plans if str(p.id) == planned), None)
    if plan is not None:
        notice = (
            f"Follow-up planned for {len(plan.groups)} group(s): {plan.audience:,} people "
            "to reach. Broadcast it with the audience filters listed below."
        )
    problem = problem or PROBLEMS.get(request.query_params.get("problem", ""), "")
    page = render_dashboard(overview, config, dash.signer.csrf(session), now, notice, problem)
    return dash.html(page, 404 if activity is not None and overview.selected is None else 200)


async def login_form(request: Request) -> Response:
    dash = dashboard_of(request)
    if await dash.session_of(request) is not None:
        return dash.redirect("/")
    return dash.html(_login_page(dash.config))


async def login(request: Request) -> Response:
    dash = dashboard_of(request)
    client = _client(request)
    try:
        form = dict(await read_form_pairs(request, LIMITS["dashboard"]))
    except BodyTooLarge:
        return too_large("dashboard.login")
    now = dash.clock()
    # Counted (as a failure) before the token is looked at, so attempts made all
    # at once each see the ones before them.
    attempt, failures = await dash.run_db(
        lambda: dash.sessions.begin_login(client, now - FAILURE_WINDOW, now)
    )
    delay = login_delay(failures)
    if delay:
        log.warning("dashboard.login_slowed", extra={"client": client, "delay_s": delay})
        await asyncio.sleep(delay)
    given = form.get("token", "")
    if not (given and dash.signer.is_token(given)):
        log.warning("dashboard.login_failed", extra={"client": client})
        return dash.html(_login_page(dash.config, "That token is not right."), 401)
    await dash.run_db(lambda: dash.sessions.finish_login(attempt))
    cookie, session, expires_at = dash.signer.issue(now)
    await dash.run_db(lambda: dash.sessions.start_session(session, client, now, expires_at))
    response = dash.redirect("/")
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=dash.config.session_hours * 3600,
        httponly=True,
        samesite="strict",
        secure=dash.config.secure_cookie,
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    dash = dashboard_of(request)
    session = await dash.session_of(request)
    if session is None:
        return dash.redirect("/login")
    try:
        form = dict(await read_form_pairs(request, LIMITS["dashboard"]))
    except BodyTooLarge:
        return too_large("dashboard.logout")
    if not hmac.compare_digest(form.get("csrf", ""), dash.signer.csrf(session)):
        return dash.redirect(f"/?{urlencode({'problem': 'csrf'})}")
    now = dash.clock()
    await dash.run_db(lambda: dash.sessions.revoke_session(session, now))
    response = dash.redirect("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


async def follow_up(request: Request) -> Response:
    dash = dashboard_of(request)
    session = await dash.session_of(request)
    if session is None:
        return dash.html(_login_page(dash.config, "Please sign in again."), 401)
    try:
        form = dict(await read_form_pairs(request, LIMITS["dashboard"]))
    except BodyTooLarge:
        return too_large("dashboard.follow_up")
    activity = form.get("activity", "")
    query = {"activity": activity}
    if not hmac.compare_digest(form.get("csrf", ""), dash.signer.csrf(session)):
        return dash.redirect(f"/?{urlencode({**query, 'problem': 'csrf'})}")
    actor = f"dashboard:{_client(request)}"
    try:
        plan = await dash.run_db(
            lambda: plan_follow_up(dash.store.representation, activity, actor, dash.clock())
        )
    except RepresentationError as error:
        code = "enrollment" if "enrollment" in str(error) else "none"
        return dash.redirect(f"/?{urlencode({**query, 'problem': code})}")
    log.info("dashboard.follow_up", extra={"activity": activity, "groups": len(plan.groups)})
    return dash.redirect(f"/?activity={quote(activity)}&planned={plan.id}")


def dashboard_routes() -> list[BaseRoute]:
    """The dashboard's routes: `/`, `/login`, `/logout`, `/follow-up`; each finds the
    `Dashboard` on `app.state.dashboard`."""
    return [
        Route("/", home, methods=["GET"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/follow-up", follow_up, methods=["POST"]),
    ]


def dashboard_off_routes() -> list[BaseRoute]:
    """`/` when ENGAGE_ADMIN_TOKEN is not set: the dashboard is off, never open."""

    async def off(request: Request) -> Response:
        return Response(
            "The dashboard is off: set ENGAGE_ADMIN_TOKEN to turn it on.\n",
            status_code=404,
            media_type="text/plain",
        )

    return [Route("/", off, methods=["GET"]), Route("/login", off, methods=["GET", "POST"])]
