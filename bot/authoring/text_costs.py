"""What the bot's own texts cost by SMS in each language, as they are sent.

`engage activity validate --segments` shows it. A text is filled in as the
engine fills it for the district (its program name, contact and emergency
number) and with short samples for what an activity or a family supplies.
The onboarding texts carry what the engine sends with them: the numbered menu
of languages, yes and no, roles or schools, and the skip hint. Right-to-left
texts carry their direction marks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.messages import Channel, OutboundMessage, Reply
from bot.core.render import as_plain_text, with_direction
from bot.core.segments import SegmentCount, count_segments
from bot.core.state import Program
from bot.core.step import onboarding_prompts
from bot.core.texts import SOURCE_LANGUAGE, message_ids, placeholders, text

__all__ = ["SAMPLES", "sent_text", "system_text_costs"]

# What the placeholders an activity or a family fills stand for; any other is "text".
SAMPLES: Mapping[str, str] = {
    "title": "Family priorities",
    "count": "3",
    "low": "1",
    "high": "5",
    "low_label": "not at all",
    "high_label": "very",
    "example": "3,1,2",
    "choices": "4 / 5",
    "number": "2",
    "total": "12",
}


def system_text_costs(
    program: Program, languages: Sequence[str]
) -> dict[str, dict[str, SegmentCount]]:
    """Per system text id (in the order of messages.pot), its SMS cost in English and in
    each of `languages`."""
    wanted = list(dict.fromkeys((SOURCE_LANGUAGE, *languages)))
    menus = {language: onboarding_prompts(program, language) for language in wanted}
    return {
        message_id: {
            language: count_segments(sent_text(message_id, language, program, menus[language]))
            for language in wanted
        }
        for message_id in message_ids()
    }


def sent_text(
    message_id: str,
    language: str,
    program: Program,
    menus: Mapping[str, Reply] | None = None,
) -> str:
    """The SMS body of system text `message_id` in `language`: filled in and, if `menus`
    (from `onboarding_prompts`) has it, with its menu."""
    reply = (menus or {}).get(message_id)
    if reply is None:
        template = text(message_id, language)
        values = {name: SAMPLES.get(name, "text") for name in placeholders(template)}
        values["program"] = program.name
        values["contact"] = program.contact_in(language)
        values["urgent_contact"] = program.urgent_contact_in(language)
        values["emergency"] = program.emergency_number
        reply = Reply(text(message_id, language, **values))
    message = with_direction(OutboundMessage(Channel.SMS, "", reply.text, reply.choices))
    return as_plain_text(message.text, message.choices)
