"""The day's appointments for counters, managers and reception
(server/appointments/listing.py, GET /api/v1/centers/{c}/appointments).

The day: Monday 2024-03-11 at baku-1 (engine_helpers.at: minute m is 10:00 local + m),
service pension-new bookable in 15-minute slots. Tickets are made here as check-in makes
them (kind "appointment", due at the slot's start), so this needs only the models:

    code    slot   what happened                                    stage
    FKM234  10:00  no-show (not checked in by start + grace)        no_show
    ACE234  10:00  checked in at 9:40, called 10:03, served by 10:10  served
    KLM345  10:15  cancelled by the visitor                          cancelled
    CEF345  10:15  checked in at 10:20 (5 late), called at 10:22    called
    EFH456  10:30  checked in at 10:29 (1 early), waiting           checked_in
    FHK567  10:45  not here yet                                     booked

plus a booking the next day and one at ganja-1, which the day's list never shows.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime

import pytest
from sqlalchemy import select

from server import queue
from server.appointments import APPOINTMENT_LEAD
from server.appointments.listing import day_appointments, mask_code, punctuality_min
from server.auth import device_actor, staff_actor
from server.models import Appointment, Center, Device, Service, StaffUser

from . import factories
from .api_helpers import PREFIX, SPEC, Api, add_staff, assert_error, bearer, setup_api
from .engine_helpers import T0, at
from .test_openapi import check

DAY = T0.date().isoformat()  # 2024-03-11
LISTING = "/centers/{center_code}/appointments"


def book(s, center: Center, service: Service, code: str, start: datetime, **fields) -> Appointment:
    """A booking row as booking.book makes it (the slot grid is not checked here)."""
    appointment = Appointment(
        center_id=center.id,
        service_id=service.id,
        start=start,
        business_day=queue.business_day(center, start),
        code=code,
        token=secrets.token_urlsafe(16),
        language="az",
        created_at=start.replace(hour=0),
        **fields,
    )
    s.add(appointment)
    s.flush()
    return appointment


def check_in(s, center: Center, appointment: Appointment, now: datetime):
    """A booking's ticket as check-in makes it: kind appointment, due at the slot's
    start, callable from the start minus the lead."""
    kiosk = device_actor(
        s.scalar(select(Device).where(Device.center_id == center.id, Device.kind == "kiosk"))
    )
    ticket = queue.issue_ticket(
        s, center.code, appointment.service.code, appointment.language, None, kiosk, now=now
    ).ticket
    start = appointment.start
    ticket.kind = "appointment"
    ticket.due_at = start
    ticket.callable_at = start - APPOINTMENT_LEAD if now < start - APPOINTMENT_LEAD else None
    ticket.checked_in_at = now
    appointment.state = "checked_in"
    appointment.checked_in_at = now
    appointment.ticket_id = ticket.id
    s.flush()
    return ticket


def make_day(s, center: Center, counter_id: int) -> None:
    """The day of the module docstring."""
    service = s.scalar(
        select(Service).where(Service.center_id == center.id, Service.code == "pension-new")
    )
    service.bookable = True
    user = s.scalar(select(StaffUser).where(StaffUser.username == "alice"))
    alice = staff_actor(user)
    book(s, center, service, "FKM234", at(0), state="no_show")
    served = book(s, center, service, "ACE234", at(0))
    book(s, center, service, "KLM345", at(15), state="cancelled", cancelled_at=at(-60))
    called = book(s, center, service, "CEF345", at(15))
    waiting = book(s, center, service, "EFH456", at(30))
    book(s, center, service, "FHK567", at(45))
    book(s, center, service, "HKL679", at(24 * 60))  # tomorrow
    other = s.scalar(select(Center).where(Center.code == "ganja-1"))
    other_service = s.scalar(select(Service).where(Service.center_id == other.id))
    book(s, other, other_service, "ACE234", at(0))

    first = check_in(s, center, served, at(-20))
    assert queue.call_next(s, counter_id, alice, now=at(3)).id == first.id
    queue.start(s, first.id, alice, now=at(4))
    queue.complete(s, first.id, alice, now=at(10))
    second = check_in(s, center, called, at(20))
    assert queue.call_next(s, counter_id, alice, now=at(22)).id == second.id
    check_in(s, center, waiting, at(29))


@pytest.fixture
def day(db, center) -> Api:
    api = setup_api(db, center)
    with db.write() as s:
        c = s.scalar(select(Center).where(Center.code == "baku-1"))
        make_day(s, c, api.counters["1"])
        add_staff(s, "rita", "reception", c)
        api.reception = bearer(factories.staff_token(s, "rita"))
    return api


def get(client, headers: dict | None, **params):
    url = f"{PREFIX}{LISTING.format(center_code='baku-1')}"
    return client.get(url, query_string=params, headers=headers or {})


# --- the list --------------------------------------------------------------------------------


def test_the_days_list_gives_each_booking_its_stage_ticket_and_punctuality(client, day):
    response = get(client, day.staff, date=DAY)
    body = check(SPEC, response, "GET", LISTING)
    assert response.status_code == 200
    assert (body["center"], body["date"]) == ("baku-1", DAY)
    rows = body["appointments"]
    # By slot start, then code; tomorrow's and ganja-1's are not there.
    assert [(r["code"], r["stage"], r["state"], r["punctuality_min"]) for r in rows] == [
        ("ACE234", "served", "checked_in", -20),
        ("FKM234", "no_show", "no_show", None),
        ("CEF345", "called", "checked_in", 5),
        ("KLM345", "cancelled", "cancelled", None),
        ("EFH456", "checked_in", "checked_in", -1),
        ("FHK567", "booked", "booked", None),
    ]
    served = rows[0]
    assert (served["start"], served["end"]) == ("2024-03-11T06:00:00Z", "2024-03-11T06:15:00Z")
    assert served["checked_in_at"] == "2024-03-11T05:40:00Z"
    assert served["service"] == {
        "code": "pension-new",
        "prefix": "A",
        "name": factories.names("New pension"),
    }
    assert served["ticket"] == {
        "number": "A001",
        "kind": "appointment",
        "status": "done",
        "called_at": "2024-03-11T06:03:00Z",
    }
    assert rows[2]["ticket"]["status"] == "called"
    assert rows[4]["ticket"] == {
        "number": "A003",
        "kind": "appointment",
        "status": "waiting",
        "called_at": None,
    }
    assert rows[5]["ticket"] is None and rows[5]["checked_in_at"] is None
    # Nothing internal: no ids, no visitor's link.
    assert all("token" not in r and "id" not in r for r in rows)


def test_another_day_has_its_own_list_and_the_default_is_the_centers_today(client, day):
    tomorrow = get(client, day.manager, date="2024-03-12").get_json()["appointments"]
    assert [r["code"] for r in tomorrow] == ["HKL679"]
    today = get(client, day.manager).get_json()
    assert today["date"] != DAY and today["appointments"] == []


def test_a_late_visitor_given_a_walk_in_ticket_is_still_a_no_show(db, day):
    with db.write() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-1"))
        booking = s.scalar(select(Appointment).where(Appointment.code == "FHK567"))
        ticket = check_in(s, center, booking, at(60))
        ticket.kind = "walk_in"  # after the grace: an ordinary ticket, the booking missed
        booking.state = "no_show"  # checked_in_at stays: when the visitor came (60 late)
    with db.read() as s:
        rows = day_appointments(s, center.id, date(2024, 3, 11))
    (late,) = [r for r in rows if r["code"] == "FHK567"]
    assert (late["stage"], late["ticket"]["kind"], late["ticket"]["status"]) == (
        "no_show",
        "walk_in",
        "waiting",
    )
    assert late["punctuality_min"] == 15


def test_punctuality_rounds_toward_zero():
    booking = Appointment(start=at(0))
    for minutes, expected in ((-1.99, -1), (-0.5, 0), (0.99, 0), (10.5, 10), (-120, -120)):
        booking.checked_in_at = at(minutes)
        assert punctuality_min(booking) == expected


# --- who may read it -------------------------------------------------------------------------


def test_staff_managers_reception_and_admins_of_the_center_read_it(client, day):
    for allowed in (day.staff, day.manager, day.reception, day.admin):
        response = get(client, allowed, date=DAY)
        check(SPEC, response, "GET", LISTING)
        assert response.status_code == 200
        assert len(response.get_json()["appointments"]) == 6


def test_reception_sees_only_the_codes_last_characters(client, day):
    """The visitor says the code; a reception login cannot collect the day's codes (each
    is a key to check in at the kiosk). Counter staff and managers see them whole."""
    whole = [r["code"] for r in get(client, day.staff, date=DAY).get_json()["appointments"]]
    response = get(client, day.reception, date=DAY)
    check(SPEC, response, "GET", LISTING)
    masked = [r["code"] for r in response.get_json()["appointments"]]
    assert masked == ["••••" + code[-2:] for code in whole] and "••••34" in masked
    managers = get(client, day.manager, date=DAY).get_json()["appointments"]
    assert [r["code"] for r in managers] == whole
    assert mask_code("ACE234") == "••••34" and mask_code("7X") == "7X"


def test_devices_other_centers_and_strangers_are_refused(client, day):
    response = get(client, None, date=DAY)
    check(SPEC, response, "GET", LISTING)
    assert_error(response, 401, "unauthorized")
    for refused in (day.other_staff, day.other_manager, day.kiosk, day.display):
        response = get(client, refused, date=DAY)
        check(SPEC, response, "GET", LISTING)
        assert_error(response, 403, "forbidden")
    # A device is refused before the center is looked up: nothing learnt of what exists.
    url = f"{PREFIX}{LISTING.format(center_code='nowhere')}"
    assert_error(client.get(url, headers=day.kiosk), 403, "forbidden")
    response = client.get(url, headers=day.admin)
    check(SPEC, response, "GET", LISTING)
    assert_error(response, 404, "center_not_found")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date": "2024-13-01"}, "date"),
        ({"date": "2024-02-30"}, "date"),
        ({"date": "11.03.2024"}, "date"),
        ({"date": DAY, "day": DAY}, "day"),
    ],
)
def test_a_bad_date_or_unknown_parameter_is_refused_naming_it(client, day, params, field):
    response = get(client, day.staff, **params)
    check(SPEC, response, "GET", LISTING)
    assert_error(response, 422, "invalid_input", field=field)
