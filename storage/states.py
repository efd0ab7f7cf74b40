"""One query shape for a participant's state: their row and their active conversation.

The inbound unit of work reads it by contact, the broadcast enqueue by participant;
both read the same columns and build the same `ParticipantState` from them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from sqlalchemy import FromClause, Select, Text, and_, cast, select

from bot.core.state import Awaiting, ConversationState, OnboardingStep, ParticipantState
from storage import models

__all__ = ["state_of", "with_state"]

participants = models.table(models.Participant)
conversations = models.table(models.Conversation)
activities = models.table(models.Activity)

_STATE_COLUMNS = (
    participants.c.language,
    participants.c.role,
    participants.c.consent,
    participants.c.onboarding,
    participants.c.onboarding_started,
    participants.c.awaiting,
    participants.c.attempts,
    # As its JSON text: most people wait for nothing, and a few lists are read once each.
    cast(participants.c.pending, Text).label("pending"),
    conversations.c.id.label("conversation_id"),
    conversations.c.activity_id,
    conversations.c.question,
    conversations.c.attempts.label("conversation_attempts"),
    conversations.c.answers,
    activities.c.key.label("activity_key"),
    activities.c.version.label("activity_version"),
)


def with_state(*columns: Any, from_: FromClause = participants) -> Select[Any]:
    """`columns` and the state columns, from `from_` (which must include participants)
    joined to the participant's active conversation, if any, and its activity."""
    return (
        select(*columns, *_STATE_COLUMNS)
        .select_from(from_)
        .outerjoin(
            conversations,
            and_(
                conversations.c.participant_id == participants.c.id,
                conversations.c.status == "active",
            ),
        )
        .outerjoin(activities, activities.c.id == conversations.c.activity_id)
    )


def state_of(row: Any, schools: tuple[str, ...], *, opted_out: bool = False) -> ParticipantState:
    """The state a `with_state` row holds."""
    conversation = None
    if row.conversation_id is not None:
        conversation = ConversationState(
            activity=row.activity_key,
            version=row.activity_version,
            question=row.question,
            attempts=row.conversation_attempts,
            answers={
                k: tuple(v) if isinstance(v, list) else v for k, v in (row.answers or {}).items()
            },
        )
    return ParticipantState(
        language=row.language,
        role=row.role,
        schools=schools,
        consent=row.consent,
        opted_out=opted_out,
        onboarding=OnboardingStep(row.onboarding) if row.onboarding else None,
        onboarding_started=bool(row.onboarding_started),
        awaiting=Awaiting(row.awaiting) if row.awaiting else None,
        attempts=row.attempts or 0,
        conversation=conversation,
        pending=_pending_of(row.pending),
    )


@lru_cache(maxsize=1024)
def _pending_of(stored: str | None) -> tuple[str, ...]:
    """The activities a participant waits for, from `pending` as stored (JSON text)."""
    return tuple(json.loads(stored) or ()) if stored else ()
