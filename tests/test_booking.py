"""Booking engine (server/appointments/ calendar, slots, booking, ics) on a real database.

Times are fixed instants (``now=``), never the clock: Monday 2026-12-07 is a working day
in Baku (UTC+4, no DST); Berlin changes its clocks on 2026-03-29 and 2026-10-25.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from server.appointments import booking, ics, slots
from server.appointments.calendar import is_open, opening_windows
from server.db import Database
from server.errors import Conflict, InvalidInput, NotFound, NovbeError
from server.models import Appointment, Center, Service

from . import factories

MONDAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # 08:00 in Baku
SECRET = "test-secret"


def baku(hour: int, minute: int = 0, day: date = MONDAY) -> datetime:
    """A Baku wall time (UTC+4 all year) as a UTC instant."""
    return datetime.combine(day, time(hour, minute), tzinfo=UTC) - timedelta(hours=4)


def make_bookable(session, center_code: str = "baku-1", service_code: str = "pension-new", **kw):
    center = session.scalar(select(Center).where(Center.code == center_code))
    service = session.scalar(
        select(Service).where(Service.center_id == center.id, Service.code == service_code)
    )
    service.bookable = True
    for name, value in kw.items():
        setattr(service, name, value)
    session.flush()
    return center, service


@pytest.fixture
def setup(db, center):
    """baku-1 with pension-new bookable: 15-minute slots, 1 place each, a lunch break,
    Sundays and a holiday (the 16th) closed."""
    with db.write() as s:
        c, _ = make_bookable(s)
        c.breaks = [{"from": "13:00", "to": "14:00"}]
        c.closed_weekdays = [6]
        c.closed_days = ["2026-12-16"]
    return db


def book(s, start: datetime, *, now: datetime = NOW, **kw) -> Appointment:
    return booking.book(s, "baku-1", "pension-new", start, "az", now=now, secret=SECRET, **kw)


def day_slots(s, day: date = MONDAY, now: datetime = NOW, code: str = "baku-1"):
    center = s.scalar(select(Center).where(Center.code == code))
    service = s.scalar(
        select(Service).where(Service.center_id == center.id, Service.code == "pension-new")
    )
    return slots.slots(s, center, service, day, now)


# --- the calendar and the grid ----------------------------------------------------------


def test_slots_follow_opening_hours_and_breaks(setup):
    with setup.read() as s:
        found = day_slots(s)
    starts = [slot.start for slot in found]
    assert starts[0] == baku(9) and starts[-1] == baku(17, 45)
    assert baku(12, 45) in starts and baku(14) in starts
    assert not [t for t in starts if baku(13) <= t < baku(14)]  # the lunch break
    assert len(starts) == 8 * 4  # 9 hours less one, four a hour
    assert all(slot.free == 1 for slot in found)


def test_closed_weekdays_and_closed_days_have_no_slots(setup):
    with setup.read() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-1"))
        assert day_slots(s, date(2026, 12, 13)) == []  # a Sunday
        assert day_slots(s, date(2026, 12, 16)) == []  # a closed day
        assert day_slots(s, date(2026, 12, 12)) != []  # Saturday is open here
        assert opening_windows(center, date(2026, 12, 13)) == []
        assert is_open(center, baku(10)) and not is_open(center, baku(13, 30))
        assert not is_open(center, baku(18)) and not is_open(center, baku(8, 59))


def test_a_slot_that_started_is_gone(setup):
    with setup.read() as s:
        assert day_slots(s, now=baku(10, 7))[0].start == baku(10, 15)
        assert day_slots(s, now=baku(10, 15))[0].start == baku(10, 30)  # starting now: gone
        assert day_slots(s, now=baku(18)) == []


def test_days_beyond_the_booking_window_have_no_slots(setup):
    with setup.write() as s:
        make_bookable(s, booking_days_ahead=3)
    with setup.read() as s:
        assert day_slots(s, MONDAY + timedelta(days=3)) != []
        assert day_slots(s, MONDAY + timedelta(days=4)) == []
        assert day_slots(s, MONDAY - timedelta(days=1)) == []


def test_slot_length_and_places_per_slot(setup):
    with setup.write() as s:
        make_bookable(s, slot_min=40, bookings_per_slot=3)
    with setup.read() as s:
        found = day_slots(s)
    # 09:00-13:00 holds 6 slots of 40 min (12:20-13:00 is the last), 14:00-18:00 six more.
    assert [slot.start for slot in found[:7]] == [
        baku(9), baku(9, 40), baku(10, 20), baku(11), baku(11, 40), baku(12, 20), baku(14)
    ]  # fmt: skip
    assert len(found) == 12 and {slot.free for slot in found} == {3}


def berlin_center(db, day_opens: time = time(0), day_closes: time = time(0)):
    with db.write() as s:
        c = factories.make_center(s, "berlin-1", timezone="Europe/Berlin")
        c.opens_at, c.closes_at = day_opens, day_closes
        make_bookable(s, "berlin-1", slot_min=60, booking_days_ahead=366)


@pytest.mark.parametrize(
    ("day", "walls", "offsets"),
    [
        # Spring forward: 02:00 -> 03:00, so the wall time 02:00 does not exist.
        (date(2026, 3, 29), [0, 1, *range(3, 24)], ["+01:00"] * 2 + ["+02:00"] * 21),
        # Fall back: 03:00 -> 02:00, so 02:00 happens twice; its slot is the first.
        (date(2026, 10, 25), list(range(24)), ["+02:00"] * 3 + ["+01:00"] * 21),
    ],
)
def test_dst_days_have_each_wall_time_once_with_its_offset(db, day, walls, offsets):
    berlin_center(db)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with db.read() as s:
        found = day_slots(s, day, now, "berlin-1")
    starts = [slot.start for slot in found]
    assert len(set(starts)) == len(starts)  # no duplicates
    local = [
        slot.start.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin")) for slot in found
    ]
    assert [t.hour for t in local] == walls
    assert [t.isoformat()[-6:] for t in local] == offsets
    assert starts == sorted(starts)


def test_dst_day_opening_hours_keep_their_wall_times(db):
    berlin_center(db, time(9), time(18))
    with db.read() as s:
        center = s.scalar(select(Center).where(Center.code == "berlin-1"))
        ((lo, hi),) = opening_windows(center, date(2026, 3, 29))
        assert (lo.hour, hi.hour) == (7, 16)  # 09:00 and 18:00 at UTC+2
        ((lo, hi),) = opening_windows(center, date(2026, 3, 28))
        assert (lo.hour, hi.hour) == (8, 17)  # the day before, UTC+1


def test_free_days_counts_as_the_slot_grid_does(setup):
    """free_days counts places arithmetically; slot by slot must give the same days:
    breaks, a full slot, a slot overfull after its places shrank, cancelled places held
    and released, a booking left off the grid by a new slot length, today half gone."""
    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    with setup.write() as s:
        make_bookable(s, bookings_per_slot=2, booking_days_ahead=10)
    with setup.write() as s:
        for start in (baku(11), baku(11), baku(9, 30), baku(12, 45), baku(12, 45)):
            book(s, start)
        book(s, baku(9, 15, tuesday))  # off the 30-minute grid below
        held = book(s, baku(10, 0, tuesday)).token
        released = book(s, baku(16, 0, wednesday)).token
        booking.cancel(s, held, now=NOW + timedelta(minutes=5))
        booking.cancel(s, released, now=NOW - timedelta(hours=2))
    for change in ({}, {"bookings_per_slot": 1}, {"slot_min": 30}):
        with setup.write() as s:
            center, service = (x.id for x in make_bookable(s, **change))
        for now in (NOW + timedelta(minutes=10), baku(11, 5), baku(12, 50)):
            with setup.read() as s:
                c, sv = s.get(Center, center), s.get(Service, service)
                fast = slots.free_days(s, c, sv, now)
                assert fast == slots.free_days_by_grid(s, c, sv, now), (change, now)
                assert MONDAY + timedelta(days=6) not in dict(fast)  # Sunday
                assert date(2026, 12, 16) not in dict(fast)  # the holiday
    # The figures themselves, once: 2 places x (16 slots before lunch + 16 after).
    with setup.write() as s:
        make_bookable(s, slot_min=15, bookings_per_slot=2)
    with setup.read() as s:
        days = dict(slots.free_days(s, s.get(Center, center), s.get(Service, service), NOW))
    assert days[MONDAY] == 64 - 2 - 1 - 2
    assert days[tuesday] == 64 - 1 - 1  # the cancelled place is still held
    assert days[wednesday] == 64  # released: cancelled two hours ago


def test_free_days_on_the_days_the_clocks_change(db):
    berlin_center(db, time(1), time(5))  # 02:00-03:00 is skipped once, doubled once
    now = datetime(2026, 3, 20, tzinfo=UTC)
    with db.write() as s:
        for start in ("2026-03-29T01:00:00+01:00", "2026-10-25T02:00:00+02:00"):
            booking.book(s, "berlin-1", "pension-new", datetime.fromisoformat(start), "en",
                         now=now, secret=SECRET)  # fmt: skip
    with db.read() as s:
        center = s.scalar(select(Center).where(Center.code == "berlin-1"))
        service = s.scalar(
            select(Service).where(Service.center_id == center.id, Service.code == "pension-new")
        )
        fast = slots.free_days(s, center, service, now)
        assert fast == slots.free_days_by_grid(s, center, service, now)
        days = dict(fast)
    assert days[date(2026, 3, 28)] == 4
    assert days[date(2026, 3, 29)] == 3 - 1  # 01:00, 03:00, 04:00; one booked
    assert days[date(2026, 10, 25)] == 4 - 1


# --- booking --------------------------------------------------------------------------------


def test_a_booking_has_a_readable_code_and_an_unguessable_token(setup):
    with setup.write() as s:
        a = book(s, baku(10), contact="+994 50 123 45 67", client="10.0.0.1")
        b = book(s, baku(10, 15))
    assert re.fullmatch(r"[ACEFHKLMNPRTUVWXY2345679]{6}", a.code)
    assert len(a.token) >= 20 and a.token != b.token and a.code != b.code
    assert a.state == "booked" and a.business_day == MONDAY and a.start == baku(10)
    with setup.read() as s:
        row = booking.appointment_by_token(s, a.token)
        assert row.contact_digest == booking.digest(SECRET, "contact", "+994501234567")
        stored = " ".join(str(v) for v in row.__dict__.values())
        assert "123" not in stored.replace(row.contact_digest, "").replace(row.token, "")
        assert "10.0.0.1" not in stored
        with pytest.raises(NotFound) as missing:
            booking.appointment_by_token(s, "nope")
        assert missing.value.code == "appointment_not_found"
        assert [slot.free for slot in day_slots(s)[4:6]] == [0, 0]


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (baku(8, 45), "slot_not_offered"),  # before opening
        (baku(13, 15), "slot_not_offered"),  # the break
        (baku(10, 5), "slot_not_offered"),  # off the grid
        (baku(17, 50), "slot_not_offered"),  # would end after closing
        (baku(10, day=date(2026, 12, 16)), "slot_not_offered"),  # a closed day
        (baku(10, day=date(2026, 12, 13)), "slot_not_offered"),  # a closed weekday
        (baku(8), "slot_in_past"),  # starts now
        (baku(10, day=MONDAY - timedelta(days=1)), "slot_in_past"),
        (baku(10, day=MONDAY + timedelta(days=15)), "too_far_ahead"),
    ],
)
def test_refusals_name_the_start(setup, start, code):
    with setup.write() as s, pytest.raises(InvalidInput) as refused:
        book(s, start)
    assert refused.value.code == code and refused.value.details["field"] == "start"


def test_other_refusals(setup):
    with setup.write() as s:
        with pytest.raises(Conflict) as refused:
            booking.book(s, "baku-1", "job-seeker", baku(10), "az", now=NOW)
        assert refused.value.code == "service_not_bookable"
        with pytest.raises(NotFound) as refused:
            booking.book(s, "baku-1", "nope", baku(10), "az", now=NOW)
        assert refused.value.code == "service_not_found"
        with pytest.raises(InvalidInput) as refused:
            booking.book(s, "baku-1", "pension-new", baku(10), "de", now=NOW)
        assert refused.value.details["field"] == "language"
        with pytest.raises(InvalidInput) as refused:
            book(s, baku(10), now=baku(10))  # the slot starting now
        assert refused.value.code == "slot_in_past"
        with pytest.raises(InvalidInput) as refused:
            book(s, baku(10).replace(tzinfo=None))
        assert refused.value.details["field"] == "start"


def test_a_full_slot_is_refused(setup):
    with setup.write() as s:
        make_bookable(s, bookings_per_slot=2)
    for _ in range(2):
        with setup.write() as s:
            book(s, baku(11))
    with setup.write() as s, pytest.raises(Conflict) as refused:
        book(s, baku(11))
    assert refused.value.code == "slot_full"
    with setup.read() as s:
        assert next(x for x in day_slots(s) if x.start == baku(11)).free == 0


def test_a_cancelled_place_is_free_again_only_after_the_hold(setup):
    with setup.write() as s:
        token = book(s, baku(11)).token
    cancelled_at = NOW + timedelta(minutes=5)
    with setup.write() as s:
        a = booking.cancel(s, token, now=cancelled_at)
        assert a.state == "cancelled" and a.cancelled_at == cancelled_at
    with setup.write() as s:  # cancelling again: the same answer
        again = booking.cancel(s, token, now=cancelled_at + timedelta(minutes=1))
        assert again.state == "cancelled" and again.cancelled_at == cancelled_at
    held = cancelled_at + timedelta(minutes=slots.CANCEL_HOLD_MIN - 1)
    with setup.read() as s:
        assert next(x for x in day_slots(s, now=held) if x.start == baku(11)).free == 0
    with setup.write() as s, pytest.raises(Conflict) as refused:
        book(s, baku(11), now=held)
    assert refused.value.code == "slot_full"
    after = cancelled_at + timedelta(minutes=slots.CANCEL_HOLD_MIN, seconds=1)
    with setup.read() as s:
        assert next(x for x in day_slots(s, now=after) if x.start == baku(11)).free == 1
    with setup.write() as s:
        assert book(s, baku(11), now=after).state == "booked"


def test_a_started_or_checked_in_booking_cannot_be_cancelled(setup):
    with setup.write() as s:
        first = book(s, baku(10)).token
        second = book(s, baku(10, 30)).token
        booking.appointment_by_token(s, second).state = "checked_in"
    with setup.write() as s, pytest.raises(Conflict) as refused:
        booking.cancel(s, first, now=baku(10))
    assert refused.value.code == "appointment_started"
    with setup.write() as s, pytest.raises(Conflict) as refused:
        booking.cancel(s, second, now=NOW)
    assert refused.value.code == "already_checked_in"


def test_per_contact_and_per_client_limits(setup):
    with setup.write() as s:
        book(s, baku(10), contact="+994 50 123-45-67")
        book(s, baku(10, 15), contact="+994501234567")
    with setup.write() as s, pytest.raises(booking.TooManyBookings) as refused:
        book(s, baku(10, 30), contact=" +994 (50) 123 45 67 ")
    assert refused.value.code == "contact_limit" and refused.value.status == 429
    with setup.write() as s:  # another day, another contact: fine
        book(s, baku(10, day=MONDAY + timedelta(days=1)), contact="+994501234567")
        book(s, baku(10, 30), contact="+994509999999")
    limits = booking.Limits(per_client_per_day=3)
    with setup.write() as s:
        for minute in (0, 15, 30):
            book(s, baku(11, minute), client="10.0.0.9", limits=limits)
    with setup.write() as s, pytest.raises(booking.TooManyBookings) as refused:
        book(s, baku(12), client="10.0.0.9", limits=limits)
    assert refused.value.code == "client_limit"
    with setup.write() as s:  # a day later the address may book again
        later = MONDAY + timedelta(days=2)
        book(s, baku(12, day=later), client="10.0.0.9", limits=limits, now=NOW + timedelta(days=1))


# --- concurrency ----------------------------------------------------------------------------


@pytest.mark.parametrize("places", [1, 3])
def test_many_clients_racing_for_the_last_places_exactly_that_many_win(setup, database_url, places):
    """Threads with their own engine (so PostgreSQL really races; SQLite's write lock
    serializes them), each booking the same slot in its own transaction."""
    with setup.write() as s:
        make_bookable(s, bookings_per_slot=places + 1)
        book(s, baku(11))  # one place taken already: `places` left
    bare = Database(database_url)
    barrier = threading.Barrier(12)
    outcomes: list[str] = []

    def racer(i: int) -> None:
        barrier.wait()
        try:
            with bare.write() as s:
                book(s, baku(11), contact=f"+99450000{i:04d}")
            outcomes.append("won")
        except Conflict as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(12)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        bare.dispose()
    assert sorted(outcomes) == sorted(["won"] * places + ["slot_full"] * (12 - places))
    with setup.read() as s:
        booked = s.scalars(select(Appointment).where(Appointment.start == baku(11))).all()
        assert len(booked) == places + 1


def test_one_contact_racing_over_several_services_gets_only_its_limit(setup, database_url):
    """The per-contact and per-client limits count over every service: bookings of one
    contact (or address) for different services, at once, take turns (a service's own
    lock alone let all of them count the same earlier bookings)."""
    services = ("pension-new", "pension-recalc", "job-seeker", "unemployment")
    with setup.write() as s:
        for code in services[1:]:
            make_bookable(s, service_code=code)
    bare = Database(database_url)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def racer(i: int) -> None:
        code, minute = services[i % 4], 15 * (i // 4)
        barrier.wait()
        try:
            with bare.write() as s:
                booking.book(
                    s,
                    "baku-1",
                    code,
                    baku(10, minute),
                    "az",
                    now=NOW,
                    secret=SECRET,
                    contact="+994 50 777 11 22" if i % 2 else None,
                    client="10.9.9.9" if not i % 2 else None,
                    limits=booking.Limits(per_client_per_day=3),
                )
            outcomes.append("won")
        except NovbeError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        bare.dispose()
    # 4 with the contact (limit 2 a day), 4 from the address (limit 3 here).
    assert sorted(outcomes) == sorted(["won"] * 5 + ["contact_limit"] * 2 + ["client_limit"])
    with setup.read() as s:
        assert len(s.scalars(select(Appointment)).all()) == 5


def test_a_start_years_ahead_is_too_far_not_an_error(setup):
    with setup.write() as s, pytest.raises(InvalidInput) as refused:
        book(s, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert refused.value.code == "too_far_ahead" and refused.value.details["field"] == "start"


# --- the calendar file ----------------------------------------------------------------------


def unfold(data: bytes) -> list[str]:
    return data.decode().replace("\r\n ", "").split("\r\n")


def test_ics_is_a_valid_event_with_folded_escaped_lines(setup):
    long_name = "Pensiya; yenidən hesablanması, " + "çox uzun ad " * 12
    with setup.write() as s:
        _, service = make_bookable(s)
        service.name = {"az": long_name, "ru": "Пенсия", "en": "Pension"}
        a = book(s, baku(10))
        center = s.get(Center, a.center_id)
        data = ics.calendar_file(a, center, service, host="novbe.example", now=NOW)
        code = a.code
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    for line in data.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode()  # never cut inside a character
    lines = unfold(data)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR" and lines[-1] == ""
    fields = dict(line.split(":", 1) for line in lines if line)
    assert fields["DTSTART"] == "20261207T060000Z" and fields["DTEND"] == "20261207T061500Z"
    assert fields["DTSTAMP"] == "20261207T040000Z"
    assert fields["UID"].endswith("@novbe.example")
    assert fields["SUMMARY"].startswith("Pensiya\\; yenidən hesablanması\\, çox uzun ad")
    assert fields["SUMMARY"].endswith("Center baku-1 (az)")
    assert fields["LOCATION"] == "Center baku-1 (az)"
    assert f"Növbə kodu: {code}\\n" in fields["DESCRIPTION"]
    assert fields["STATUS"] == "CONFIRMED"
