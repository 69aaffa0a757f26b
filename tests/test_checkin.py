"""Checking in an appointment (server/appointments/checkin.py) and where its ticket
stands among walk-ins and priority visitors (docs/queue.md, "Appointments and absent
tickets"); the upkeep that makes a booking not checked in a no-show; the HTTP route.

Test center (factories.center_spec): A = pension-new (target 15 min), B =
pension-recalc (5). Counter 1 serves A, B. Services' check-in window: 30 minutes
early to 10 minutes late (the defaults), after that a walk-in ticket.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server import queue
from server.appointments import APPOINTMENT_LEAD, checkin, upkeep
from server.appointments.listing import punctuality_min
from server.errors import Conflict, InvalidInput, NotFound
from server.maintenance import run_maintenance_once
from server.models import Appointment, Center, Ticket, TicketEvent, utcnow

from .api_helpers import PREFIX, assert_error, setup_api
from .arrival_helpers import book, service
from .engine_helpers import Env, at, issue, make_env


@pytest.fixture
def env(db) -> Env:
    with db.write() as s:
        return make_env(s)


def check_in(s, env: Env, code: str, minute: float, **kw) -> checkin.CheckIn:
    return checkin.check_in(s, env.center_code, code, env.kiosk, now=at(minute), **kw)


def refused(s, env: Env, code: str, minute: float, error=Conflict) -> Exception:
    with pytest.raises(error) as caught:
        check_in(s, env, code, minute)
    return caught.value


def call(s, env: Env, minute: float, counter=None) -> str | None:
    ticket = queue.call_next(s, counter or env.c1, env.alice, now=at(minute))
    if ticket is None:
        return None
    queue.start(s, ticket.id, env.alice, now=at(minute))
    return ticket.display_number


# --- outcomes -------------------------------------------------------------------------


def test_on_time_check_in_makes_an_appointment_ticket_due_at_the_slot(db, env):
    with db.write() as s:
        booking = book(s, env.center_id, at(10), code="K7MP3X")
        done = check_in(s, env, " k7m p3x ", minute=5)  # typed: case and spaces ignored
        ticket = done.issued.ticket
        assert done.kind == "appointment" and done.late is False and done.issued.created
        assert ticket.kind == "appointment" and ticket.status == "waiting"
        assert ticket.due_at == at(10) and ticket.callable_at == at(10) - APPOINTMENT_LEAD
        assert ticket.checked_in_at == at(5) and ticket.language == "en"
        assert (booking.state, booking.ticket_id, booking.checked_in_at) == (
            "checked_in",
            ticket.id,
            at(5),
        )


def test_early_check_in_is_callable_only_from_the_slot_start_minus_the_lead(db, env):
    with db.write() as s:
        book(s, env.center_id, at(30), code="AAAAAA")
        ticket = check_in(s, env, "AAAAAA", minute=0).issued.ticket  # 30 min early: opens
        assert ticket.callable_at == at(28)
        walk_in = issue(s, env, minute=1)  # A002, due at 16
        assert call(s, env, minute=27) == walk_in.display_number  # not the appointment
        assert queue.call_next(s, env.c1, env.alice, now=at(27.5)) is None  # nobody callable
        assert call(s, env, minute=28) == ticket.display_number


def test_too_early_says_from_when(db, env):
    with db.write() as s:
        book(s, env.center_id, at(60), code="CCCCCC")
        error = refused(s, env, "CCCCCC", minute=29)
        assert error.code == "too_early"
        assert error.details["opens_at"] == "2024-03-11T06:30:00Z"  # 10:30 in Baku
        assert s.scalar(select(Ticket.id)) is None


def test_late_within_grace_is_called_first_as_overdue(db, env):
    with db.write() as s:
        book(s, env.center_id, at(0), code="EEEEEE")
        first = issue(s, env, minute=-14)  # due at 1: after the slot's start
        ticket = check_in(s, env, "EEEEEE", minute=8).issued.ticket  # 8 min late
        assert ticket.callable_at is None and ticket.due_at == at(0)
        assert [call(s, env, 9), call(s, env, 10)] == [ticket.display_number, first.display_number]


def test_after_grace_a_walk_in_ticket_and_the_booking_is_a_no_show(db, env):
    with db.write() as s:
        booking = book(s, env.center_id, at(0), code="FFFFFF")
        done = check_in(s, env, "FFFFFF", minute=11)
        ticket = done.issued.ticket
        assert done.late is True and done.kind == "walk_in" and ticket.kind == "walk_in"
        assert ticket.due_at == at(11 + 15) and ticket.callable_at is None
        assert booking.state == "no_show" and booking.ticket_id == ticket.id
        # When the visitor arrived: the report's punctuality counts them "late 10+".
        assert booking.checked_in_at == at(11) and punctuality_min(booking) == 11
        assert refused(s, env, "FFFFFF", minute=12).code == "already_checked_in"


def test_after_grace_refused_where_the_service_says_so(db, env):
    with db.write() as s:
        service(s, env.center_id, "pension-new").after_grace = "refuse"
        book(s, env.center_id, at(0), code="HHHHHH")
        error = refused(s, env, "HHHHHH", minute=10.5)
        assert error.code == "too_late" and error.details["closed_at"] == "2024-03-11T06:10:00Z"
        assert check_in(s, env, "HHHHHH", minute=10).issued.created  # the grace's last instant


def test_a_booking_the_upkeep_made_no_show_still_gets_a_late_walk_in_that_day(db, env):
    with db.write() as s:
        booking = book(s, env.center_id, at(0), code="KKKKKK")
        assert upkeep.mark_no_show_bookings(s, now=at(10)) == 0  # grace not over
        assert upkeep.mark_no_show_bookings(s, now=at(10.5)) == 1
        assert upkeep.mark_no_show_bookings(s, now=at(11)) == 0  # idempotent
        assert booking.state == "no_show"
        done = check_in(s, env, "KKKKKK", minute=40)
        assert done.late and done.issued.ticket.kind == "walk_in"


def test_other_refusals_each_have_their_code(db, env):
    with db.write() as s:
        other = make_env(s, "ganja-1")
        book(s, other.center_id, at(0), code="LLLLLL")
        book(s, env.center_id, at(0), code="MMMMMM", state="cancelled")
        book(s, env.center_id, at(-24 * 60), code="NNNNNN", state="no_show")  # yesterday
        book(s, env.center_id, at(0), code="PPPPPP")
        check_in(s, env, "PPPPPP", minute=0)
        assert refused(s, env, "LLLLLL", 0).code == "wrong_center"
        assert refused(s, env, "MMMMMM", 0).code == "appointment_cancelled"
        assert refused(s, env, "NNNNNN", 0).code == "appointment_no_show"
        assert refused(s, env, "PPPPPP", 1).code == "already_checked_in"
        assert refused(s, env, "RRRRRR", 0, NotFound).code == "appointment_not_found"
        assert refused(s, env, "hello?", 0, NotFound).code == "appointment_not_found"
        assert refused(s, env, "  ", 0, InvalidInput).details["field"] == "code"
        assert refused(s, env, "x" * 201, 0, InvalidInput).details["field"] == "code"
        assert s.scalar(select(Appointment.state).where(Appointment.code == "LLLLLL")) == "booked"


def test_a_priority_class_puts_the_appointment_in_the_priority_lane(db, env):
    with db.write() as s:
        book(s, env.center_id, at(0), code="TTTTTT")
        ticket = check_in(s, env, "TTTTTT", minute=0, priority="elderly").issued.ticket
        assert ticket.priority == "elderly" and ticket.lane == 1
        # A kiosk's visitor chose the class: nobody confirmed it.
        assert "confirmed_by" not in issue_details(s, ticket)


def test_a_priority_booking_before_its_slot_is_not_counted_as_a_priority_waiting(db, env):
    """The counter's "priority visitors are waiting" notice (queue_stats'
    priority_waiting) counts whom call-next could call: a booking checked in early is
    not, until its slot minus the lead; a priority walk-in is at once."""
    with db.write() as s:
        book(s, env.center_id, at(30), code="PPPPPP")
        check_in(s, env, "PPPPPP", minute=0, priority="elderly")
        center = s.get(Center, env.center_id)

        def priority_waiting(minute: float) -> int:
            stats = queue.queue_stats(s, center, now=at(minute))
            return next(r for r in stats["services"] if r["service"] == "pension-new")[
                "priority_waiting"
            ]

        assert priority_waiting(1) == 0
        assert priority_waiting(28) == 1  # callable from the slot minus the lead
        issue(s, env, minute=2, priority="veteran")
        assert priority_waiting(3) == 1
        assert priority_waiting(29) == 2


def test_staff_giving_a_priority_class_is_recorded_as_confirming_it(db, env):
    """As for a staff issue (api/tickets.py): the issue event names who saw the document,
    on time and late (a walk-in ticket); without a class, nobody is named."""
    with db.write() as s:
        book(s, env.center_id, at(0), code="TTTTT2")
        book(s, env.center_id, at(0), code="TTTTT3")
        book(s, env.center_id, at(0), code="TTTTT4")
        staff = dict(actor=env.alice, now=at(0))
        on_time = checkin.check_in(s, env.center_code, "TTTTT2", priority="elderly", **staff)
        staff["now"] = at(12)
        late = checkin.check_in(s, env.center_code, "TTTTT3", priority="elderly", **staff)
        plain = checkin.check_in(s, env.center_code, "TTTTT4", **staff)
        assert late.late and late.issued.ticket.lane == 1
        for done in (on_time, late):
            assert issue_details(s, done.issued.ticket)["confirmed_by"] == env.alice.name
        assert "confirmed_by" not in issue_details(s, plain.issued.ticket)


def issue_details(s, ticket: Ticket) -> dict:
    return s.scalar(
        select(TicketEvent.details).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.action == "issue"
        )
    )


# --- the documented order -------------------------------------------------------------


def scene(s, env: Env) -> dict[str, str]:
    """Walk-ins, priority visitors and appointments of A (target 15) and B (target 5),
    called from minute 20 (docs/queue.md has this example)."""
    names = {}
    names[issue(s, env, minute=0).display_number] = "walk-in A due 15"
    names[issue(s, env, minute=8).display_number] = "walk-in A due 23"
    names[issue(s, env, "pension-recalc", minute=14).display_number] = "walk-in B due 19"
    names[issue(s, env, priority="elderly", minute=12).display_number] = "priority A due 27"
    book(s, env.center_id, at(18), code="AAAAA2")  # slot 18, callable from 16
    book(s, env.center_id, at(30), code="AAAAA3")  # slot 30: callable from 28
    book(s, env.center_id, at(20), "pension-recalc", code="AAAAA4")  # slot 20
    for code, minute in (("AAAAA2", 10), ("AAAAA3", 15), ("AAAAA4", 19)):
        ticket = check_in(s, env, code, minute).issued.ticket
        names[ticket.display_number] = f"appointment {code}"
    return names


def calls(s, env: Env, minutes) -> list[tuple[int, str]]:
    """Call next at each minute; (minute, who) for the calls that found someone."""
    names = scene(s, env)
    called = []
    for minute in minutes:
        number = call(s, env, minute)
        if number:
            called.append((minute, names[number]))
    return called


def test_documented_order_strict(db, env):
    with db.write() as s:
        order = calls(s, env, range(20, 40))
    assert order == [
        (20, "priority A due 27"),  # strict: the priority lane first
        (21, "walk-in A due 15"),  # then the normal lane, most overdue first
        (22, "appointment AAAAA2"),  # slot 18
        (23, "walk-in B due 19"),
        (24, "appointment AAAAA4"),  # slot 20
        (25, "walk-in A due 23"),
        # 26, 27: nobody callable, the 10:30 appointment waits for 10:28
        (28, "appointment AAAAA3"),
    ]


def test_documented_order_ratio(db):
    with db.write() as s:
        env = make_env(s, call_policy="ratio", priority_ratio=2)
        order = calls(s, env, range(20, 40))
    assert order == [
        (20, "walk-in A due 15"),
        (21, "appointment AAAAA2"),
        (22, "priority A due 27"),  # one priority visitor after two others
        (23, "walk-in B due 19"),
        (24, "appointment AAAAA4"),
        (25, "walk-in A due 23"),
        (28, "appointment AAAAA3"),
    ]


# --- upkeep in the maintenance round --------------------------------------------------


def test_the_maintenance_round_makes_missed_bookings_no_shows(app, db, center):
    with db.write() as s:
        missed = book(s, center.id, utcnow() - timedelta(minutes=11), code="WWWWWW").id
        waiting = book(s, center.id, utcnow() - timedelta(minutes=5), code="XXXXXX").id
    with app.app_context():
        run_maintenance_once()
    with db.read() as s:
        assert s.get(Appointment, missed).state == "no_show"
        assert s.get(Appointment, waiting).state == "booked"


# --- HTTP -----------------------------------------------------------------------------


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


def post_check_in(client, headers, code, center="baku-1", **extra):
    return client.post(
        f"{PREFIX}/centers/{center}/check-in", json={"code": code, **extra}, headers=headers
    )


def test_http_check_in_at_the_kiosk_prints_like_any_ticket(client, db, center, api):
    with db.write() as s:
        book(s, center.id, utcnow() + timedelta(minutes=20), code="YYYYYY")
    response = post_check_in(client, api.kiosk, "yyyyyy")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["kind"] == "appointment" and body["late"] is False
    assert body["appointment"]["code"] == "YYYYYY" and body["appointment"]["state"] == "checked_in"
    assert body["appointment"]["start"].endswith("+04:00")  # the center's time
    assert body["print"]["state"] in ("pending", "e_ticket") and body["checked_in"] is True
    assert body["tracking_url"].endswith(f"/t/{body['tracking_token']}")
    assert response.headers["Location"].endswith(body["tracking_token"])
    assert_error(post_check_in(client, api.kiosk, "YYYYYY"), 409, "already_checked_in")


def test_http_check_in_by_reception_and_staff_not_by_others(client, db, center, api):
    from .api_helpers import add_staff, bearer
    from .factories import staff_token

    with db.write() as s:
        add_staff(s, "rita", "reception", center)
        reception = bearer(staff_token(s, "rita"))
        for code in ("VVVVV2", "VVVVV3", "VVVVV4"):
            book(s, center.id, utcnow() + timedelta(minutes=5), code=code)
    assert post_check_in(client, reception, "VVVVV2").status_code == 201
    assert post_check_in(client, api.staff, "VVVVV3").status_code == 201
    assert_error(post_check_in(client, api.display, "VVVVV4"), 403, "forbidden")
    assert_error(post_check_in(client, api.other_kiosk, "VVVVV4"), 403, "forbidden")
    assert_error(post_check_in(client, api.other_staff, "VVVVV4"), 403, "forbidden")
    assert_error(post_check_in(client, {}, "VVVVV4"), 401, "unauthorized")
    assert_error(post_check_in(client, api.other_kiosk, "VVVVV4", "ganja-1"), 409, "wrong_center")


def test_http_refusals(app, client, db, center, api):
    app.config["CHECKIN_BURST_LIMITS"] = "100 per second"  # many refusals in a row, on purpose
    with db.write() as s:
        book(s, center.id, utcnow() + timedelta(hours=2), code="UUUUUU")
        book(s, center.id, utcnow(), code="UUUUU2", state="cancelled")
    error = assert_error(post_check_in(client, api.kiosk, "UUUUUU"), 409, "too_early")
    assert error["details"]["opens_at"].endswith("Z")
    assert_error(post_check_in(client, api.kiosk, "UUUUU2"), 409, "appointment_cancelled")
    assert_error(post_check_in(client, api.kiosk, "UUUUU9"), 404, "appointment_not_found")
    assert_error(post_check_in(client, api.kiosk, ""), 422, "invalid_input", field="code")
    assert_error(post_check_in(client, api.kiosk, "UUUUUU", extra=1), 422, "invalid_input")
    assert_error(post_check_in(client, api.kiosk, "UUUUUU", "nowhere"), 404, "center_not_found")


# --- at once ---------------------------------------------------------------------------


def test_one_code_scanned_at_two_kiosks_at_once_makes_one_ticket(db, env):
    """The booking row is locked (PostgreSQL) or the write lock serializes (SQLite)."""
    import threading

    from server.errors import NovbeError

    with db.write() as s:
        book(s, env.center_id, at(0), code="TWNA22")
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def kiosk() -> None:
        barrier.wait()
        try:
            with db.write() as s:
                check_in(s, env, "TWNA22", minute=0)
            outcomes.append("ticket")
        except NovbeError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=kiosk) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_checked_in"] * 3 + ["ticket"]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1
