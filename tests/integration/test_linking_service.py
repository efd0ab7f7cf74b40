"""A Telegram deep link is one message, one transaction: the code is redeemed (or the
school preset), the message logged and the engine's replies queued together, on
SQLite and PostgreSQL. A crash part-way leaves none of it; a redelivery changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from bot.core.messages import Channel, InboundMessage
from bot.core.state import Program, School
from bot.ports import Redeemed
from bot.services.linking import LinkingService
from storage import models
from storage.linking import SqlLinkUnitOfWork

PROGRAM = Program(
    name="Riverside Plan",
    contact="555-0100",
    languages=("en", "es"),
    schools=(School("lincoln-es", "Lincoln Elementary"),),
)
NOW = datetime(2026, 9, 1, 15, 0)
PHONE = "+15550100001"
CHAT = "4242"


class Counted:
    """The real unit of work, counting commits; `fail_on` names a call that crashes."""

    commits = 0

    def __init__(self, engine: Engine, fail_on: str | None = None) -> None:
        self._uow = SqlLinkUnitOfWork(engine)
        self._fail_on = fail_on

    def __enter__(self) -> Counted:
        self._uow.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._uow.__exit__(*exc)

    def commit(self) -> None:
        Counted.commits += 1
        self._uow.commit()

    def __getattr__(self, name: str) -> Any:
        if name == self._fail_on:
            raise RuntimeError("the worker died here")
        return getattr(self._uow, name)


def service(engine: Engine, fail_on: str | None = None) -> LinkingService:
    return LinkingService(
        lambda: Counted(engine, fail_on),  # type: ignore[arg-type, return-value]
        PROGRAM,
        clock=lambda: NOW,
        deep_link=lambda code: f"https://t.me/riverside_bot?start={code}",
    )


def family_with_code(engine: Engine) -> str:
    with SqlLinkUnitOfWork(engine) as uow:
        sender = uow.add_sender(Channel.SMS, PHONE, NOW)
        uow.create_link_code(
            sender.participant_id, "link-abc", Channel.TELEGRAM, NOW + timedelta(hours=1), NOW
        )
        uow.commit()
    return "link-abc"


def start(code: str, update: str = "update-1") -> InboundMessage:
    return InboundMessage(Channel.TELEGRAM, CHAT, f"/start {code}", provider_id=update)


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            connection.scalar(select(func.count()).select_from(table))
            for table in (
                models.Message.__table__,
                models.Outbox.__table__,
                models.Contact.__table__,
            )
        )


def test_a_deep_link_is_one_commit_with_its_log_row_and_replies(engine: Engine) -> None:
    code = family_with_code(engine)
    Counted.commits = 0

    outcome = service(engine).handle_inbound(start(code))

    assert Counted.commits == 1
    assert not outcome.duplicate and outcome.replies >= 1
    messages, outbox, contacts = counts(engine)
    assert messages == 1 and contacts == 2
    assert outbox == 1 + outcome.replies  # "linked", then the engine's own replies
    with SqlLinkUnitOfWork(engine) as uow:
        sender = uow.find_sender(Channel.TELEGRAM, CHAT)
        phone = uow.find_sender(Channel.SMS, PHONE)
    assert sender is not None and phone is not None
    assert sender.participant_id == phone.participant_id


def test_a_redelivered_deep_link_changes_nothing(engine: Engine) -> None:
    code = family_with_code(engine)
    service(engine).handle_inbound(start(code))
    before = counts(engine)

    outcome = service(engine).handle_inbound(start(code))

    assert outcome.duplicate
    assert counts(engine) == before


@pytest.mark.parametrize("fail_on", ["record_inbound", "save_participant"])
def test_a_crash_part_way_leaves_the_code_unspent(engine: Engine, fail_on: str) -> None:
    code = family_with_code(engine)
    before = counts(engine)

    with pytest.raises(RuntimeError):
        service(engine, fail_on).handle_inbound(start(code))

    assert counts(engine) == before
    with SqlLinkUnitOfWork(engine) as uow:
        assert uow.redeem_link_code(code, Channel.TELEGRAM, CHAT, NOW) is Redeemed.LINKED


def test_a_school_deep_link_is_kept_with_the_message(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            models.School.__table__.insert(),
            {"code": "lincoln-es", "name": "Lincoln Elementary", "created_at": NOW},
        )
    Counted.commits = 0

    service(engine).handle_inbound(start("lincoln-es"))

    assert Counted.commits == 1
    with SqlLinkUnitOfWork(engine) as uow:
        sender = uow.find_sender(Channel.TELEGRAM, CHAT)
    assert sender is not None and "lincoln-es" in sender.state.schools


def test_a_staff_members_first_message_makes_them_staff_in_its_one_commit(
    engine: Engine,
) -> None:
    Counted.commits = 0
    slack = service(engine, fail_on=None)
    for n, text in enumerate(["hola", "¿cómo va la encuesta?"]):
        dm = InboundMessage(
            Channel.SLACK, "U0STAFF", text, provider_id=f"Ev{n}", sender_name="María López"
        )
        assert not slack.handle_inbound(dm).duplicate
    assert Counted.commits == 2
    with engine.connect() as connection:
        [person] = connection.execute(select(models.Participant.__table__)).all()
        logged = connection.execute(
            select(models.Message.participant_id).where(models.Message.direction == "in")
        ).scalars()
        assert list(logged) == [person.id, person.id]
    assert (person.role, person.name) == ("staff", "María López")


def test_a_staff_member_who_crashes_mid_message_is_not_made_half(engine: Engine) -> None:
    dm = InboundMessage(Channel.SLACK, "U0STAFF", "hola", provider_id="Ev0", sender_name="Ana")
    with pytest.raises(RuntimeError):
        service(engine, fail_on="record_inbound").handle_inbound(dm)
    with engine.connect() as connection:
        assert connection.execute(select(func.count(models.Participant.id))).scalar_one() == 0
