"""`engage ideas`: moderate, translate and report on idea exchanges (docs/exchange.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from bot.cli.session import actor, command_runtime, err, out
from bot.errors import EngageError

if TYPE_CHECKING:
    from bot.bootstrap import Runtime
    from bot.services.moderation import IdeaModeration

ideas_app = typer.Typer(help="Moderate, translate and report on idea exchanges.")
translations_app = typer.Typer(help="Translate approved ideas, least-heard languages first.")
ideas_app.add_typer(translations_app, name="translations")


def moderation_for(runtime: Runtime) -> IdeaModeration:
    from bot.services.inbound import utcnow
    from bot.services.moderation import IdeaModeration
    from storage.moderation import SqlModerationUnitOfWork

    engine = runtime.engine
    return IdeaModeration(
        lambda: SqlModerationUnitOfWork(engine), utcnow, runtime.district.default_language
    )


def _pairs(values: list[str] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values or []:
        language, sep, words = value.partition("=")
        if not sep or not language.strip():
            raise EngageError(f"--translation {value!r}: write it as LANGUAGE=TEXT, like es=Más…")
        found[language.strip()] = words
    return found


@ideas_app.command("moderate")
def ideas_moderate(
    ctx: typer.Context,
    activity: Annotated[str, typer.Argument(help="The exchange's key.")],
    number: Annotated[int | None, typer.Argument(help="The idea's number, as listed.")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Show it to everyone.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Never show it.")] = False,
    edit: Annotated[
        str | None, typer.Option("--edit", help="Approve it with these words instead.")
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="Why (required with --edit); kept on record.")
    ] = None,
    translation: Annotated[
        list[str] | None,
        typer.Option("--translation", "-t", help="LANGUAGE=TEXT, with an approval (repeat)."),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="List every idea, not only those waiting.")
    ] = False,
) -> None:
    """List the ideas waiting for a decision, or decide on one.

    Flagged ideas (a phone number, an email, a name) are marked ⚑. A rejected
    idea is never shown; an approved one goes live at once, and its author is
    told in their language.

    Example: engage ideas moderate belonging-ideas

    Example: engage ideas moderate belonging-ideas 4 --approve -t es="Más clubes"

    Example: engage ideas moderate belonging-ideas 5 --edit "More tutors" --note "name removed"
    """
    from bot.core.moderation import Decision

    runtime = command_runtime(ctx)
    desk = moderation_for(runtime)
    chosen = [d for d, on in ((Decision.APPROVE, approve), (Decision.REJECT, reject)) if on]
    if edit is not None:
        chosen.append(Decision.EDIT)
    if number is None:
        if chosen:
            raise EngageError("name the idea's number to decide on it")
        cards = desk.waiting(activity, pending_only=not every)
        table = Table("#", "status", "language", "idea", "flags", "translations")
        for card in cards:
            flags = "⚑ " + "; ".join(card.flags) if card.flags else ""
            table.add_row(
                str(card.number),
                card.status,
                card.language,
                card.text,
                flags,
                ", ".join(sorted(card.translations)),
            )
        out.print(table)
        err.print(f"{len(cards)} ideas" + ("" if every else " waiting"))
        return
    if len(chosen) > 1:
        raise EngageError("choose one of --approve, --reject, --edit")
    card = desk.find(activity, number)
    if not chosen:
        out.print(f"#{card.number} [{card.status}] ({card.language}) {card.text}", highlight=False)
        for flag in card.flags:
            out.print(f"  ⚑ {flag}", highlight=False)
        for language, words in sorted(card.translations.items()):
            out.print(f"  {language}: {words}", highlight=False)
        return
    result = desk.decide(
        card, chosen[0], actor(), edit=edit, note=note, translations=_pairs(translation)
    )
    told = "; its author was told" if result.author_told else ""
    out.print(f"idea {number}: {result.card.status}{told}", highlight=False)


@ideas_app.command("translate")
def ideas_translate(
    ctx: typer.Context,
    activity: Annotated[str, typer.Argument(help="The exchange's key.")],
    number: Annotated[int, typer.Argument(help="The idea's number.")],
    language: Annotated[str, typer.Argument(help="The language of the translation (es, vi…).")],
    words: Annotated[str, typer.Argument(help="The idea in that language.")],
) -> None:
    """Give an idea its text in another language; speakers of it are shown it from then on.

    Example: engage ideas translate belonging-ideas 4 vi "Thêm câu lạc bộ"
    """
    runtime = command_runtime(ctx)
    desk = moderation_for(runtime)
    card = desk.translate(desk.find(activity, number), language, words, actor())
    out.print(f"idea {number}: {', '.join(sorted(card.translations))}", highlight=False)


@translations_app.command("list")
def translations_list(
    ctx: typer.Context, activity: Annotated[str, typer.Argument(help="The exchange's key.")]
) -> None:
    """The approved ideas still missing a language, in the order to translate them."""
    runtime = command_runtime(ctx)
    work = moderation_for(runtime).translation_work(activity, runtime.district.languages)
    table = Table("#", "written in", "idea", "missing")
    for task in work:
        table.add_row(
            str(task.card.number), task.card.language, task.card.text, ", ".join(task.missing)
        )
    out.print(table)


@translations_app.command("export")
def translations_export(
    ctx: typer.Context,
    activity: Annotated[str, typer.Argument(help="The exchange's key.")],
    output: Annotated[Path, typer.Argument(help="The XLSX sheet to write.")],
) -> None:
    """Write the approved ideas that lack a language to a sheet, least-heard languages first.

    One row per idea, a column per district language: fill the empty cells and
    read it back with `engage ideas translations import`.

    Example: engage ideas translations export belonging-ideas ideas.xlsx
    """
    from bot.authoring.idea_sheets import export_idea_sheet

    runtime = command_runtime(ctx)
    work = moderation_for(runtime).translation_work(activity, runtime.district.languages)
    export_idea_sheet(activity, work, runtime.district.languages, output)
    out.print(f"{output}: {len(work)} ideas to translate", highlight=False)


@translations_app.command("import")
def translations_import(
    ctx: typer.Context,
    activity: Annotated[str, typer.Argument(help="The exchange's key.")],
    sheet: Annotated[Path, typer.Argument(help="The filled-in XLSX sheet.")],
) -> None:
    """Read translated ideas back from a sheet; an empty cell changes nothing.

    Example: engage ideas translations import belonging-ideas ideas.xlsx
    """
    from bot.authoring.idea_sheets import read_idea_sheet

    runtime = command_runtime(ctx)
    desk = moderation_for(runtime)
    rows = read_idea_sheet(sheet, activity, runtime.district.languages)
    count = 0
    for number, language, words in rows:
        card = desk.find(activity, number)
        if card.text_in(language) == words or language == card.language:
            continue
        desk.translate(card, language, words, actor())
        count += 1
    out.print(f"{sheet}: {count} translations saved", highlight=False)


@ideas_app.command("report")
def ideas_report(
    ctx: typer.Context,
    activity: Annotated[str, typer.Argument(help="The exchange's key.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder to write (ideas-ACTIVITY/).")
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="Aggregates only, small counts hidden; no Polis files.")
    ] = False,
) -> None:
    """Analyse an exchange: opinion groups, top, consensus and divisive ideas, Polis's files.

    Writes ideas.xlsx (a sheet per table), each table as CSV, and, unless
    --public, Polis's own export files in polis/ (comments.csv, votes.csv,
    participants-votes.csv, comment-groups.csv, summary.csv).

    Example: engage ideas report belonging-ideas -o report/

    Example: engage ideas report belonging-ideas --public -o public/
    """
    from bot.authoring.activities import parse_activity
    from bot.bootstrap import build_synthesis_store
    from bot.synthesis.pack import write_exchange_report

    runtime = command_runtime(ctx)
    store = build_synthesis_store(runtime)
    definition = store.versions(activity, parse_activity)[-1].activity
    if definition.exchange is None:
        raise EngageError(f"{activity} is a {definition.kind.value}, not an exchange")
    folder = output or Path(f"ideas-{activity}")
    threshold = runtime.settings.suppression_threshold
    with err.status(f"Analysing {activity}…"):
        report = write_exchange_report(
            store, definition, folder, public=public, threshold=threshold
        )
    for note in report.notes:
        err.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    out.print(
        f"{report.reactions:,} reactions from {report.participants:,} people to "
        f"{report.ideas:,} ideas; {report.groups} opinion groups",
        highlight=False,
    )
    for number, idea in enumerate(report.top, 1):
        out.print(f"  top {number}: {idea}", highlight=False)
    for idea in report.consensus:
        out.print(f"  consensus: {idea}", highlight=False)
    kind = f"public (counts under {threshold} hidden)" if public else "internal"
    err.print(f"{kind} report: {len(report.files)} files in {folder}")


@ideas_app.command("share-back")
def ideas_share_back(
    ctx: typer.Context,
    activity: Annotated[str, typer.Argument(help="The exchange's key.")],
    next_steps: Annotated[
        list[str],
        typer.Option(
            "--next",
            help="What the planning committee will do next: TEXT in the default language, "
            "or LANGUAGE=TEXT (repeat for each language).",
        ),
    ],
    top: Annotated[int, typer.Option(help="How many top ideas to send.", min=1, max=5)] = 3,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show it and stop.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm without asking (scripts).")] = False,
) -> None:
    """Send everyone who took part the top ideas, in their language, and what happens next.

    Writes the message as a progress update (ACTIVITY-results, versioned like
    every activity) and broadcasts it to took-part=ACTIVITY: the people who
    shared an idea or reacted. Quiet hours, opt-outs and pauses apply as to
    every broadcast.

    Example: engage ideas share-back belonging-ideas --next "The committee meets May 4." \\
    --next es="El comité se reúne el 4 de mayo."
    """
    import yaml

    from bot.authoring.activities import parse_activity
    from bot.bootstrap import build_broadcasting
    from bot.cli.broadcast import _enqueue_with_progress, _show_plan
    from bot.core.moderation import results_message
    from bot.core.texts import text
    from bot.services.inbound import utcnow
    from bot.synthesis.ideas import ExchangeVotes, analyse_exchange
    from storage.activities import store_activity
    from storage.export import activity_versions
    from storage.ideas import exchange_tables

    runtime = command_runtime(ctx)
    district = runtime.district
    default = district.default_language
    with runtime.engine.connect() as connection:
        definition = activity_versions(connection, activity, parse_activity)[-1].activity
        if definition.exchange is None:
            raise EngageError(f"{activity} is a {definition.kind.value}, not an exchange")
        tables = exchange_tables(connection, activity, default)
    if tables.votes.empty:
        raise EngageError(f"{activity} has no reactions yet: nothing to share back")
    prompt = definition.exchange.prompt.get(default)
    data = ExchangeVotes(activity, prompt, "", tables.ideas, tables.votes, tables.participants)
    report = analyse_exchange(data, threshold=runtime.settings.suppression_threshold)
    desk = moderation_for(runtime)
    cards = [desk.find(activity, int(number)) for number in report.top(top)["idea"]]
    steps = {default: ""}
    for value in next_steps:
        language, sep, words = value.partition("=")
        if sep and language.strip() in district.languages:
            steps[language.strip()] = words
        else:
            steps[default] = value
    if not steps[default].strip():
        raise EngageError("--next needs the text in the default language too")
    messages: dict[str, str] = {}
    titles: dict[str, str] = {}
    for language in district.languages:
        title = definition.title.get(language, definition.default_language)
        words = steps.get(language) or steps[default]
        messages[language], missing = results_message(title, cards, words, language, default)
        titles[language] = text("ideas_results_title", language, title=title)
        if missing:
            listed = ", ".join(str(n) for n in missing)
            err.print(
                f"[yellow]warning[/yellow] {language}: ideas {listed} have no translation; "
                f"sent in '{default}' (engage ideas translate {activity} N {language} TEXT)",
                highlight=False,
            )
        if language not in steps:
            err.print(
                f"[yellow]warning[/yellow] {language}: no --next {language}=…; the "
                f"'{default}' text is sent",
                highlight=False,
            )
    key = f"{activity[:32]}-results"
    source = yaml.safe_dump(
        {
            "key": key,
            "kind": "update",
            "default_language": default,
            "title": titles,
            "message": messages,
        },
        allow_unicode=True,
        sort_keys=False,
    )
    update = parse_activity(source, f"{key}.yaml")
    out.print(messages[default], highlight=False)
    broadcasting = build_broadcasting(runtime)
    if dry_run:
        out.print("Dry run: nothing stored or sent.")
        return
    store_activity(runtime.engine, update, source, utcnow(), actor())
    from zoneinfo import ZoneInfo

    plan = broadcasting.plan(key, f"took-part={activity}")
    _show_plan(plan, broadcasting, ZoneInfo(district.timezone))
    if not yes:
        typer.confirm(f"Send to {plan.counts.reachable} people?", abort=True)
    new_id = broadcasting.confirm(plan, actor())
    _enqueue_with_progress(broadcasting, new_id, plan.counts.people)
