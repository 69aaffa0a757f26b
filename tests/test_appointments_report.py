"""Booked visits in the reports and on the dashboard (server/reports/appointments.py):
booked, checked in, no-show rate, the early/late distribution and the wait after the
slot's start. The day is test_appointments_listing's (see its docstring):

    ACE234 10:00  checked in 20 min early, called 10:03      wait after start 3 min
    CEF345 10:15  checked in 5 min late (10:20), called 10:22  wait after check-in 2 min
    EFH456 10:30  checked in 1 min early, waiting
    FKM234 no-show, KLM345 cancelled, FHK567 booked (ahead)
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from server import queue
from server.appointments import booking, checkin
from server.appointments.listing import day_appointments
from server.auth import device_actor, staff_actor
from server.models import Appointment, Center, Device, Service, StaffUser
from server.reports import dashboard, report
from server.reports.appointments import PUNCTUALITY_BUCKETS

from .api_helpers import PREFIX, SPEC, Api, setup_api
from .engine_helpers import at
from .test_appointments_listing import DAY, book, check_in, make_day
from .test_openapi import check

MONDAY = date(2024, 3, 11)


@pytest.fixture
def day(db, center) -> Api:
    api = setup_api(db, center)
    with db.write() as s:
        make_day(s, s.scalar(select(Center).where(Center.code == "baku-1")), api.counters["1"])
    return api


def _center(s) -> Center:
    return s.scalar(select(Center).where(Center.code == "baku-1"))


def buckets(**counts) -> dict:
    return {name: counts.get(name, 0) for name, _, _ in PUNCTUALITY_BUCKETS}


def test_the_report_counts_bookings_no_shows_punctuality_and_waits_after_start(db, day):
    with db.read() as s:
        body = report(s, _center(s), MONDAY, MONDAY)
    (row,) = body["appointments"]["centers"]
    assert row == {
        "center": "baku-1",
        "booked": 5,  # not the cancelled one; FHK567 still ahead counts as booked
        "cancelled": 1,
        "checked_in": 3,
        "no_shows": 1,
        "late_walk_ins": 0,
        "no_show_rate": 0.25,  # 1 of the 4 settled (FHK567 is not settled yet)
        "called": 2,
        "avg_wait_after_start_s": 150,
        "p90_wait_after_start_s": 180,
        "punctuality": buckets(early_10_30=1, early_0_10=1, late_5_10=1),
    }
    # Per service: only the bookable one (or one that had bookings), the same figures.
    (service,) = body["appointments"]["services"]
    assert (service["service"], service["prefix"], service["booked"]) == ("pension-new", "A", 5)
    assert {k: service[k] for k in row if k != "center"} == {
        k: v for k, v in row.items() if k != "center"
    }
    # Another day has none, with nulls where nothing was measured.
    with db.read() as s:
        other = report(s, _center(s), date(2024, 3, 10), date(2024, 3, 10))
    (empty,) = other["appointments"]["centers"]
    assert (empty["booked"], empty["no_show_rate"], empty["p90_wait_after_start_s"]) == (
        0,
        None,
        None,
    )


def test_late_walk_ins_early_arrivals_and_calls_in_the_lead(db, day):
    """A visitor two hours early, one called in the lead before the start (waits 0),
    and one after the grace who took a walk-in ticket (a no-show, counted apart)."""
    with db.write() as s:
        center = _center(s)
        service = s.scalar(
            select(Service).where(Service.center_id == center.id, Service.code == "pension-new")
        )
        alice = staff_actor(s.scalar(select(StaffUser).where(StaffUser.username == "alice")))
        counter = day.counters["2"]  # counter 1 has CEF345 called
        # EFH456 (10:30, checked in at 10:29) is called at 10:29: in the lead, waits 0.
        assert queue.call_next(s, counter, alice, now=at(29.5)).status == "called"
        early = book(s, center, service, "PRT234", at(120))
        check_in(s, center, early, at(-1))  # 121 minutes early
        late = book(s, center, service, "FHK999", at(60))
        ticket = check_in(s, center, late, at(75))
        ticket.kind = "walk_in"
        late.state = "no_show"  # checked_in_at stays at(75): when the visitor came
    with db.read() as s:
        (row,) = report(s, _center(s), MONDAY, MONDAY)["appointments"]["centers"]
    assert (row["booked"], row["checked_in"], row["no_shows"], row["late_walk_ins"]) == (7, 4, 2, 1)
    assert row["no_show_rate"] == round(2 / 6, 4)
    assert row["punctuality"] == buckets(
        early_60_plus=1, early_10_30=1, early_0_10=1, late_5_10=1, late_10_plus=1
    )
    # Waits 180, 120 and 0 s: mean 100, p90 the largest (rank ceil(2.7) = 3).
    assert (row["called"], row["avg_wait_after_start_s"], row["p90_wait_after_start_s"]) == (
        3,
        100,
        180,
    )


def test_the_dashboard_shows_todays_bookings_and_the_halls_occupancy(db, day):
    with db.read() as s:
        body = dashboard(s, _center(s), now=at(30))
    assert body["day"] == DAY
    today = body["appointments"]
    assert (today["booked"], today["checked_in"], today["no_shows"], today["called"]) == (
        5,
        3,
        1,
        2,
    )
    # A001 is done; A002 (called) and A003 (waiting) are in the hall. No limit set.
    assert body["hall"] == {"capacity": None, "present": 2, "full": False}
    with db.write() as s:
        _center(s).hall_capacity = 2
    with db.read() as s:
        assert dashboard(s, _center(s), now=at(30))["hall"] == {
            "capacity": 2,
            "present": 2,
            "full": True,
        }


def test_the_report_and_dashboard_apis_carry_the_appointments(client, day):
    path = "/centers/{center_code}/report"
    response = client.get(
        f"{PREFIX}/centers/baku-1/report",
        query_string={"from": DAY, "to": DAY},
        headers=day.manager,
    )
    body = check(SPEC, response, "GET", path)
    assert body["appointments"]["centers"][0]["checked_in"] == 3
    response = client.get(
        f"{PREFIX}/report", query_string={"from": DAY, "to": DAY}, headers=day.admin
    )
    body = check(SPEC, response, "GET", "/report")
    # ganja-1's booking is on its own row.
    assert [(r["center"], r["booked"]) for r in body["appointments"]["centers"]] == [
        ("baku-1", 5),
        ("ganja-1", 1),
    ]
    response = client.get(f"{PREFIX}/centers/baku-1/dashboard", headers=day.manager)
    body = check(SPEC, response, "GET", "/centers/{center_code}/dashboard")
    assert set(body["hall"]) == {"capacity", "present", "full"}


def test_a_booking_is_counted_on_its_slots_day_not_the_day_it_was_made(db, day):
    with db.read() as s:
        center = _center(s)
        tuesday = report(s, center, date(2024, 3, 12), date(2024, 3, 12))
        week = report(s, center, MONDAY, date(2024, 3, 17))
        assert s.scalar(select(Appointment).where(Appointment.code == "HKL679")) is not None
    assert tuesday["appointments"]["centers"][0]["booked"] == 1
    assert week["appointments"]["centers"][0]["booked"] == 6


def test_the_engines_own_booking_and_check_in_are_counted(db, center):
    """Through booking.book and checkin.check_in (not hand-made rows): a visitor 10
    minutes early, and one 15 minutes late (after the 10-minute grace: a walk-in ticket,
    the booking a no-show) are counted as such, on both backends."""
    with db.write() as s:
        c = _center(s)
        for service in c.services:
            service.bookable = True
        kiosk = device_actor(s.scalar(select(Device).where(Device.center_id == c.id)))
        day_before = at(-24 * 60)
        early = booking.book(s, "baku-1", "pension-new", at(60), "ru", now=day_before)
        late = booking.book(s, "baku-1", "pension-new", at(90), "en", now=day_before)
        early_code, late_code = early.code, late.code
    with db.write() as s:
        made = checkin.check_in(s, "baku-1", early_code, kiosk, now=at(50))
        assert (made.kind, made.late) == ("appointment", False)
    with db.write() as s:
        made = checkin.check_in(s, "baku-1", late_code.lower(), kiosk, now=at(105))
        assert (made.kind, made.late) == ("walk_in", True)
    with db.read() as s:
        (row,) = report(s, _center(s), MONDAY, MONDAY)["appointments"]["centers"]
        listed = {r["code"]: r for r in day_appointments(s, _center(s).id, MONDAY)}
    assert (row["booked"], row["checked_in"], row["no_shows"], row["late_walk_ins"]) == (2, 1, 1, 1)
    # Exactly 10 early: [-10, 0); the late walk-in came 15 minutes after the start.
    assert row["punctuality"] == buckets(early_0_10=1, late_10_plus=1)
    assert (listed[early_code]["stage"], listed[early_code]["punctuality_min"]) == (
        "checked_in",
        -10,
    )
    assert (listed[late_code]["stage"], listed[late_code]["ticket"]["kind"]) == (
        "no_show",
        "walk_in",
    )
    assert listed[late_code]["punctuality_min"] == 15
