"""What a moderator should look at twice before an idea is shown to the whole district.

An idea is flagged when it seems to hold a phone number, an email address,
or the name of a student or a staff member:

- a phone number: seven or more digits in a row, spaces, dots, dashes and
  brackets allowed between them ("555-0134", "(555) 010 0134");
- an email address, also written out ("maria at gmail dot com");
- a name from the roster (participants whose role is student or staff):
  the whole name anywhere, in any case and with or without accents; or a
  part of it (three letters or more) written with a capital letter other
  than at the start of a sentence ("the bus driver Lopez");
- a title followed by a capitalised word ("Mr. Smith", "Ms Nguyen",
  "Coach Rivera", "Sra. Díaz"), whoever it names.

Flags only put an idea in front of a person: a moderator decides. Erring
towards a flag is the point; in "before" moderation every idea waits anyway.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.core.keywords import fold
from bot.core.texts import text as system_text

__all__ = [
    "Decision",
    "Flag",
    "FlagKind",
    "IdeaCard",
    "IdeaTap",
    "KnownName",
    "NameIndex",
    "TranslationTask",
    "flag_idea",
    "may_decide",
    "results_message",
    "statuses_shown",
    "translation_order",
]

MIN_NAME_PART = 3
PHONE = re.compile(r"(?<![\w+])\+?\(?\d(?:[\s().\-]{0,3}\d){6,}(?!\w)")
EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
SPELLED_EMAIL = re.compile(
    r"\b[\w.+\-]+\s*(?:\(at\)|\[at\]|\sat\s|\sarroba\s)\s*[\w\-]+\s*"
    r"(?:\(dot\)|\[dot\]|\sdot\s|\spunto\s|\.)\s*(?:com|org|net|edu|gov|us|info)\b",
    re.IGNORECASE,
)
TITLES = (
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "coach",
    "principal",
    "sr",
    "sra",
    "srta",
    "maestro",
    "maestra",
    "profe",
    "profesor",
    "profesora",
    "senor",
    "senora",
    "thay",
    "co",
)
TITLED = re.compile(
    r"(?<!\w)(?:" + "|".join(TITLES) + r")\.?\s+([^\W\d_][\w'\-]*)", re.IGNORECASE | re.UNICODE
)
WORD = re.compile(r"[^\W_][\w'\-]*", re.UNICODE)
SENTENCE_END = frozenset(".!?¡¿。！？\n")


class FlagKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    NAME = "name"


@dataclass(frozen=True, slots=True)
class Flag:
    """One reason to look twice; `detail` says what was found, for the moderator only."""

    kind: FlagKind
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class KnownName:
    """A student's or staff member's name from the roster."""

    name: str
    role: str


def _folded(word: str) -> str:
    return fold(unicodedata.normalize("NFKC", word).casefold())


def _is_cased(text: str) -> bool:
    return any(char.isupper() or char.islower() for char in text)


class NameIndex:
    """The roster's names, ready to look for in many ideas."""

    def __init__(self, names: Iterable[KnownName]) -> None:
        self._full: dict[tuple[str, ...], KnownName] = {}
        self._parts: dict[str, KnownName] = {}
        self._uncased: dict[str, KnownName] = {}
        for known in names:
            words = tuple(_folded(w) for w in WORD.findall(known.name))
            if not words:
                continue
            if not _is_cased(known.name):
                # Chinese, Korean… names are matched whole, spaces ignored.
                self._uncased.setdefault("".join(words), known)
                continue
            if len(words) > 1:
                self._full.setdefault(words, known)
            for word in words:
                if len(word) >= MIN_NAME_PART:
                    self._parts.setdefault(word, known)
        self._longest = max((len(k) for k in self._full), default=0)

    def __len__(self) -> int:
        return len(self._full) + len(self._parts) + len(self._uncased)

    def find(self, text: str) -> list[Flag]:
        """The roster names `text` seems to hold, once each."""
        flags: dict[str, Flag] = {}
        prepared = unicodedata.normalize("NFKC", text)
        matches = list(WORD.finditer(prepared))
        words = [_folded(m.group()) for m in matches]
        for start in range(len(words)):
            for length in range(min(self._longest, len(words) - start), 1, -1):
                known = self._full.get(tuple(words[start : start + length]))
                if known is not None:
                    flags.setdefault(known.name, _name_flag(known))
                    break
        for index, match in enumerate(matches):
            word = match.group()
            known = self._parts.get(words[index])
            if known is None or not word[:1].isupper() or _starts_sentence(prepared, match.start()):
                continue
            flags.setdefault(known.name, _name_flag(known))
        if self._uncased:
            squeezed = "".join(_folded(ch) for ch in prepared if not ch.isspace())
            for name, known in self._uncased.items():
                if name in squeezed:
                    flags.setdefault(known.name, _name_flag(known))
        return list(flags.values())


def _name_flag(known: KnownName) -> Flag:
    return Flag(FlagKind.NAME, f"{known.name} ({known.role})")


def _starts_sentence(text: str, position: int) -> bool:
    before = text[:position].rstrip(" \t\"'“”‘’«»(")
    return not before or before[-1] in SENTENCE_END


def flag_idea(text: str, names: NameIndex | None = None) -> tuple[Flag, ...]:
    """Why a moderator should look twice at `text`; empty when nothing was found."""
    prepared = unicodedata.normalize("NFKC", text)
    flags: list[Flag] = []
    for match in PHONE.finditer(prepared):
        digits = sum(char.isdigit() for char in match.group())
        if digits >= 7:
            flags.append(Flag(FlagKind.PHONE, match.group().strip()))
    for pattern in (EMAIL, SPELLED_EMAIL):
        flags.extend(Flag(FlagKind.EMAIL, m.group().strip()) for m in pattern.finditer(prepared))
    # Titles are matched without accents ("Cô Lan", "Señora Díaz"); fold keeps the case.
    folded = fold(prepared)
    same = len(folded) == len(prepared)
    titled: list[Flag] = [
        Flag(FlagKind.NAME, (prepared if same else folded)[match.start() : match.end()].strip())
        for match in TITLED.finditer(folded)
        if match.group(1)[:1].isupper()
    ]
    found = names.find(prepared) if names is not None else []
    return _unique([*flags, *found, *titled])


def _unique(flags: Sequence[Flag]) -> tuple[Flag, ...]:
    return tuple(dict.fromkeys(flags))


# -- a moderator's desk ------------------------------------------------------------


class Decision(StrEnum):
    """What a moderator decides about an idea; an edit is an approval of other words."""

    APPROVE = "approve"
    REJECT = "reject"
    EDIT = "edit"


@dataclass(frozen=True, slots=True)
class IdeaCard:
    """An idea as a moderator or translator sees it.

    `text` is what is shown (after an edit), `original` what was written;
    `flags` say why to look twice (`Flag` as text); `translations` maps
    language to text, the original language left out.
    """

    id: int
    activity: str
    number: int
    text: str
    original: str
    language: str
    status: str
    created_at: datetime
    flags: tuple[str, ...] = ()
    note: str | None = None
    is_seed: bool = False
    translations: Mapping[str, str] = field(default_factory=dict)
    reviewed_by: str | None = None

    @property
    def awaits_review(self) -> bool:
        """Waiting for a moderator, or live without one having looked (moderation: after)."""
        return self.status == "pending" or (
            self.status == "approved" and self.reviewed_by == "auto" and not self.is_seed
        )

    def text_in(self, language: str) -> str | None:
        """The idea in `language`: as written (or edited), or translated; None without one."""
        if language == self.language:
            return self.text
        return self.translations.get(language)


@dataclass(frozen=True, slots=True)
class IdeaTap:
    """A moderator's tap on an idea's card in Slack, with what they typed on the card.

    `edit` (new words) turns an approval into an edit; `translations` maps
    language to the text typed in that language's field; `channel` and `ts`
    name the card.
    """

    user: str
    idea_id: int
    decision: Decision
    channel: str
    ts: str
    edit: str | None = None
    note: str | None = None
    translations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TranslationTask:
    """An approved idea and the district languages it still lacks."""

    card: IdeaCard
    missing: tuple[str, ...]


def translation_order(
    cards: Iterable[IdeaCard], languages: Sequence[str], heard: Mapping[str, int]
) -> list[TranslationTask]:
    """What translators should do first: the ideas of the least-heard languages.

    `heard` counts the people taking part in the exchange per language; an idea
    written in a language few take part in comes first, so the families the
    district hears least reach everyone soonest. Then older ideas first. Only
    approved ideas, each with the `languages` it has no text in yet.
    """
    tasks = [
        TranslationTask(card, tuple(lang for lang in languages if card.text_in(lang) is None))
        for card in cards
        if card.status == "approved"
    ]
    return sorted(
        (task for task in tasks if task.missing),
        key=lambda t: (heard.get(t.card.language, 0), t.card.created_at, t.card.id),
    )


def may_decide(
    card: IdeaCard, decision: Decision, text: str | None, note: str | None
) -> str | None:
    """Why the decision cannot be taken as given, or None when it can."""
    if card.is_seed and decision is not Decision.APPROVE:
        return f"idea {card.number} is a seed from the activity file; change it there"
    if decision is Decision.EDIT:
        if not text or not text.strip():
            return "an edit needs the new text"
        if not note or not note.strip():
            return "an edit needs a note saying what changed and why"
    return None


def statuses_shown(pending_only: bool) -> Collection[str]:
    """The statuses a moderator's list shows."""
    return ("pending",) if pending_only else ("pending", "approved", "rejected")


def results_message(
    title: str,
    cards: Sequence[IdeaCard],
    next_steps: str,
    language: str,
    default: str,
) -> tuple[str, list[int]]:
    """What everyone who took part hears back, in `language`: thanks, the top ideas
    numbered, and what the planning committee will do next.

    An idea without a text in `language` is given in the `default` language's
    (the ideas are the community's words, never machine-translated); their
    numbers come back so the organizer can have them translated first.
    """
    lines = [system_text("ideas_results", language, title=title)]
    untranslated: list[int] = []
    for place, card in enumerate(cards, 1):
        words = card.text_in(language)
        if words is None:
            untranslated.append(card.number)
            words = card.text_in(default) or card.text
        lines.append(f"{place}. {words}")
    if next_steps.strip():
        lines.append(next_steps.strip())
    return "\n".join(lines), untranslated
