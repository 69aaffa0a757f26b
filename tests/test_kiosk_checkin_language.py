"""The language a visitor picks at check-in (the kiosk's keypad, reception's visitor
language) is their ticket's: printed in it, its phone page in it; without one, the
booking's. The public ticket says when an appointment is (its slot) and the center's
time zone, for the phone page to show both as the center's clocks do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from server.models import Ticket, utcnow
from server.serializers import iso

from .api_helpers import PREFIX, assert_error, setup_api
from .arrival_helpers import book


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


def check_in(client, headers, code: str, **extra):
    return client.post(
        f"{PREFIX}/centers/baku-1/check-in", json={"code": code, **extra}, headers=headers
    )


def ticket_language(db, token: str) -> str:
    with db.read() as s:
        return s.scalar(select(Ticket.language).where(Ticket.tracking_token == token))


def test_the_language_chosen_at_check_in_is_the_tickets(client, db, center, api):
    with db.write() as s:
        for code in ("LLLLL2", "LLLLL3", "LLLLL4"):
            book(s, center.id, utcnow() + timedelta(minutes=20), code=code, language="en")
        book(s, center.id, utcnow() - timedelta(minutes=30), code="LLLLL5", language="en")
    chosen = check_in(client, api.kiosk, "LLLLL2", language="ru")
    assert chosen.status_code == 201, chosen.get_json()
    assert chosen.get_json()["language"] == "ru"
    assert ticket_language(db, chosen.get_json()["tracking_token"]) == "ru"
    # None chosen: the booking's.
    plain = check_in(client, api.kiosk, "LLLLL3").get_json()
    assert plain["language"] == "en" and ticket_language(db, plain["tracking_token"]) == "en"
    # Reception's visitor language too.
    by_staff = check_in(client, api.staff, "LLLLL4", language="az").get_json()
    assert by_staff["language"] == "az"
    # Late after the grace: the ordinary ticket is in the chosen language as well.
    late = check_in(client, api.kiosk, "LLLLL5", language="az").get_json()
    assert late["late"] is True and late["language"] == "az"


def test_an_unknown_language_is_refused_naming_the_field(client, db, center, api):
    with db.write() as s:
        book(s, center.id, utcnow() + timedelta(minutes=20), code="LLLLL6")
    for wrong in ("de", "", 7, "RU"):
        assert_error(
            check_in(client, api.kiosk, "LLLLL6", language=wrong),
            422,
            "invalid_input",
            field="language",
        )
    assert check_in(client, api.kiosk, "LLLLL6", language=None).status_code == 201


def test_the_public_ticket_says_when_the_appointment_is_and_the_centers_zone(
    client, db, center, api
):
    with db.write() as s:
        slot = book(s, center.id, utcnow() + timedelta(minutes=20), code="LLLLL7").start
    body = check_in(client, api.kiosk, "LLLLL7").get_json()
    assert body["appointment_at"] == iso(slot) and body["timezone"] == "Asia/Baku"
    public = client.get(f"{PREFIX}/tickets/{body['tracking_token']}").get_json()
    assert public["appointment_at"] == iso(slot) and public["timezone"] == "Asia/Baku"
    walk_in = client.post(
        f"{PREFIX}/centers/baku-1/tickets",
        json={"service": "pension-new", "language": "en"},
        headers=api.kiosk,
    ).get_json()
    public = client.get(f"{PREFIX}/tickets/{walk_in['tracking_token']}").get_json()
    assert public["appointment_at"] is None and public["timezone"] == "Asia/Baku"
