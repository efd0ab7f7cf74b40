"""Link codes, deep-link schools and staff contacts in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, insert

from bot.core.messages import Channel
from bot.ports import Redeemed
from storage import models
from storage.linking import SqlLinkUnitOfWork

NOW = datetime(2026, 9, 1, 15, 0)
PHONE = "+15550100001"


def family(engine: Engine, phone: str = PHONE) -> tuple[int, int]:
    with SqlLinkUnitOfWork(engine) as uow:
        sender = uow.add_sender(Channel.SMS, phone, NOW)
        uow.commit()
    return sender.participant_id, sender.contact_id


def test_a_link_code_joins_a_chat_to_the_person_once(engine: Engine) -> None:
    participant_id, _ = family(engine)
    with SqlLinkUnitOfWork(engine) as uow:
        uow.create_link_code(
            participant_id, "link-abc", Channel.TELEGRAM, NOW + timedelta(hours=24), NOW
        )
        uow.commit()
    with SqlLinkUnitOfWork(engine) as uow:
        assert uow.redeem_link_code("link-abc", Channel.TELEGRAM, "555", NOW) is Redeemed.LINKED
        uow.commit()
    with SqlLinkUnitOfWork(engine) as uow:
        assert uow.redeem_link_code("link-abc", Channel.TELEGRAM, "555", NOW) is Redeemed.ALREADY
        assert uow.redeem_link_code("link-abc", Channel.TELEGRAM, "777", NOW) is Redeemed.INVALID
        assert uow.redeem_link_code("link-nope", Channel.TELEGRAM, "555", NOW) is Redeemed.INVALID
        sender = uow.find_sender(Channel.TELEGRAM, "555")
    assert sender is not None and sender.participant_id == participant_id


def test_an_expired_code_links_nothing(engine: Engine) -> None:
    participant_id, _ = family(engine)
    with SqlLinkUnitOfWork(engine) as uow:
        uow.create_link_code(
            participant_id, "link-old", Channel.TELEGRAM, NOW, NOW - timedelta(days=1)
        )
        assert (
            uow.redeem_link_code("link-old", Channel.TELEGRAM, "555", NOW + timedelta(seconds=1))
            is Redeemed.INVALID
        )
        assert uow.find_sender(Channel.TELEGRAM, "555") is None


def test_an_existing_chat_moves_over_to_the_linked_person(engine: Engine) -> None:
    participant_id, _ = family(engine)
    with SqlLinkUnitOfWork(engine) as uow:
        stray = uow.add_sender(Channel.TELEGRAM, "555", NOW)
        uow.create_link_code(
            participant_id, "link-abc", Channel.TELEGRAM, NOW + timedelta(hours=1), NOW
        )
        uow.commit()
    with SqlLinkUnitOfWork(engine) as uow:
        assert uow.redeem_link_code("link-abc", Channel.TELEGRAM, "555", NOW) is Redeemed.LINKED
        uow.commit()
    with SqlLinkUnitOfWork(engine) as uow:
        moved = uow.find_sender(Channel.TELEGRAM, "555")
    assert moved is not None and moved.participant_id == participant_id != stray.participant_id


@pytest.mark.parametrize(("school", "kept"), [("lincoln-es", True), ("nowhere", False)])
def test_a_deep_link_school_is_kept_only_if_the_district_has_it(
    engine: Engine, school: str, kept: bool
) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(models.School.__table__),
            {"code": "lincoln-es", "name": "Lincoln Elementary", "created_at": NOW},
        )
    participant_id, _ = family(engine)
    with SqlLinkUnitOfWork(engine) as uow:
        assert uow.preset_school(participant_id, school, NOW) is kept
        uow.commit()
