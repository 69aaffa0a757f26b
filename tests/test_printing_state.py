"""Paper tickets in process, on every backend: each kiosk ticket's print state, the
kiosk agent's side of the live channel (jobs, reports, printer health, the pending
jobs it gets back after a drop), reprints, and the server printing to a network
printer itself. The agent here is Flask-SocketIO's test client speaking its protocol;
tests/test_kiosk_agent.py runs the real agent against a real server."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from hardware.loopback_printer import LoopbackPrinter
from server import printing, queue
from server.db import Database
from server.extensions import socketio
from server.migrate import alembic_config, upgrade
from server.models import Base, Center, Device, Ticket, TicketEvent
from server.printing import RECENT_PRINTS

from . import factories
from .api_helpers import PREFIX, act, assert_error, call_next, issue, setup_api
from .printer_helpers import shows_number

NS = "/live"
BASE_URL = "http://kiosk-lan.test:5000"


@pytest.fixture(autouse=True)
def no_agents():
    """The registry of connected agents lives as long as the process: start empty."""
    printing.agents.clear()
    yield
    printing.agents.clear()


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


def token_of(headers: dict) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def connect(app, **auth):
    return socketio.test_client(app, namespace=NS, auth=auth)


def connect_agent(app, headers: dict, **extra):
    """A print agent of the kiosk whose API headers are given."""
    return connect(app, token=token_of(headers), agent="printer", base_url=BASE_URL, **extra)


def job_id(db, ticket_id: int) -> str:
    """The ticket's current print job id, as the server names it."""
    with db.read() as s:
        return printing.print_id(s.get(Ticket, ticket_id))


def received(sio) -> list[tuple[str, dict]]:
    """Everything ``sio`` got since last asked, as (event, payload)."""
    return [(e["name"], e["args"][0] if e["args"] else None) for e in sio.get_received(NS)]


def named(events: list[tuple[str, dict]], name: str) -> list[dict]:
    return [data for event, data in events if event == name]


def report(sio, **body):
    """Send a report as the agent does and return the server's acknowledgement."""
    return sio.emit("ticket.printed", body, namespace=NS, callback=True)


def ticket_row(db, ticket_id: int) -> SimpleNamespace:
    """The ticket's print columns, as stored now."""
    with db.read() as s:
        ticket = s.get(Ticket, ticket_id)
        return SimpleNamespace(
            print_state=ticket.print_state,
            print_reason=ticket.print_reason,
            printed_at=ticket.printed_at,
            device_id=ticket.device_id,
        )


# ---- the schema ----------------------------------------------------------------------------


PARTIAL_INDEXES = {
    "ix_tickets_at_counter": "status",
    "ix_tickets_done": "status",
    "ix_tickets_queue": "target_counter_id IS NULL",
    "ix_tickets_targeted": "target_counter_id IS NOT NULL",
    "ix_tickets_print_pending": "print_state",
    "ix_tickets_absent": "passed_at IS NULL",
}


def test_the_migrations_build_exactly_the_models(db):
    """Migration 0002 (the tickets table rebuilt in SQLite's batch mode) ends where the
    models are: columns, types, indexes, and the partial indexes keep their WHERE."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        if db.is_sqlite:
            table = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'tickets'"
            indexes = "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
        else:
            table = (
                "SELECT string_agg(conname, ' ') FROM pg_constraint "
                "WHERE conrelid = 'tickets'::regclass AND contype = 'c'"
            )
            indexes = (
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename = 'tickets' AND schemaname = current_schema()"
            )
        assert "ck_tickets_print_state" in conn.execute(text(table)).scalar()
        definitions = dict(conn.execute(text(indexes)).all())
    for name, condition in PARTIAL_INDEXES.items():
        where = definitions[name].split("WHERE", 1)[1]
        assert condition in where, definitions[name]


def test_downgrading_and_upgrading_0002_keeps_the_tickets(tmp_path):
    url = f"sqlite:///{tmp_path / 'round-trip.db'}"
    engine = create_engine(url, poolclass=NullPool)
    upgrade(engine)
    database = Database(url)
    with database.write() as s:
        center = factories.make_center(s)
        queue.issue_ticket(s, "baku-1", "pension-new", "ru", None, factories.kiosk_actor(s, center))
    config = alembic_config(url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tickets")).scalar() == 1
    upgrade(engine)
    with database.read() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert (ticket.display_number, ticket.language) == ("A001", "ru")
        assert (ticket.print_state, ticket.reprint_count) == (None, 0)
    with pytest.raises(Exception, match="ck_tickets_print_state"), database.write() as s:
        s.scalars(select(Ticket)).one().print_state = "lost"
        s.flush()
    database.dispose()
    engine.dispose()


# ---- issuing -----------------------------------------------------------------------------


def test_without_agent_or_printer_the_ticket_is_an_e_ticket(app, client, api):
    kiosk, display = (
        connect(app, token=token_of(api.kiosk)),
        connect(app, token=token_of(api.display)),
    )
    received(kiosk), received(display)

    body = issue(client, api, language="en")

    assert body["print"] == {"number": "A001", "state": "e_ticket", "reason": "no_printer"}
    assert named(received(kiosk), "ticket.print_state") == [body["print"]]
    # The display has its own device room: it hears nothing about the kiosk's paper.
    assert named(received(display), "ticket.print_state") == []


def test_a_ticket_issued_by_staff_has_no_print_state(client, api, db):
    body = issue(client, api, headers=api.staff)
    assert body["print"] == {"number": "A001", "state": None, "reason": None}
    assert ticket_row(db, body["id"]).print_state is None


def test_the_agent_gets_the_job_and_its_report_makes_the_ticket_printed(app, client, api, db):
    agent = connect_agent(app, api.kiosk)
    kiosk = connect(app, token=token_of(api.kiosk))
    snapshot = named(received(agent), "snapshot")[0]
    assert snapshot["kind"] == "agent" and snapshot["pending"] == []
    assert snapshot["printer"]["mode"] == "agent" and snapshot["printer"]["agent_connected"]
    received(kiosk)

    body = issue(client, api, service="job-seeker", language="ru")
    assert body["print"]["state"] == "pending"

    [job] = named(received(agent), "ticket.print")
    assert job == {
        "print_id": job_id(db, body["id"]),
        "ticket": body["id"],
        "reprint": False,
        "center_name": "Center baku-1 (ru)",
        "number": "C001",
        "service_name": "Job seeker registration (ru)",
        "language": "ru",
        "issued_at": body["created_at"],
        "timezone": "Asia/Baku",
        "position": 1,
        "estimated_wait_s": body["estimated_wait_s"],
        "phone_url": f"{BASE_URL}/t/{body['tracking_token']}",
        "kind": "walk_in",
        "appointment_at": None,
    }
    # The kiosk's screen (a plain device connection) never gets jobs: they carry links.
    kiosk_events = received(kiosk)
    assert named(kiosk_events, "ticket.print") == []
    assert named(kiosk_events, "ticket.print_state") == [
        {"number": "C001", "state": "pending", "reason": None}
    ]

    assert re.fullmatch(rf"{body['id']}-[0-9a-f]{{8}}", job["print_id"])
    answer = report(agent, ticket=job["ticket"], print_id=job["print_id"], ok=True)

    assert answer == {"ok": True, "number": "C001", "state": "printed", "reason": None}
    assert named(received(kiosk), "ticket.print_state") == [
        {"number": "C001", "state": "printed", "reason": None}
    ]
    row = ticket_row(db, body["id"])
    assert row.print_state == "printed" and row.printed_at is not None
    # A report that arrives twice (sent again after a reconnect) changes nothing.
    assert report(agent, ticket=job["ticket"], print_id=job["print_id"], ok=True)["ok"]
    assert ticket_row(db, body["id"]).printed_at == row.printed_at
    assert named(received(kiosk), "ticket.print_state") == []


def test_a_failed_print_says_why_and_is_logged(app, client, api, db):
    agent = connect_agent(app, api.kiosk)
    kiosk = connect(app, token=token_of(api.kiosk))
    body = issue(client, api)
    received(kiosk)

    answer = report(
        agent, ticket=body["id"], print_id=job_id(db, body["id"]), ok=False, reason="paper_out"
    )
    assert answer["state"] == "failed" and answer["reason"] == "paper_out"
    assert named(received(kiosk), "ticket.print_state") == [
        {"number": "A001", "state": "failed", "reason": "paper_out"}
    ]
    # A reason is a code: a printer's own message never reaches a screen.
    second = issue(client, api)
    answer = report(agent, ticket=second["id"], ok=False, reason="Paper out at 10.0.0.7:9100")
    assert answer["reason"] == "error"
    with db.read() as s:
        events = s.scalars(
            select(TicketEvent.action).where(TicketEvent.ticket_id == body["id"])
        ).all()
    assert events == ["issue", "print_failed"]


def test_only_a_kiosks_own_agent_reports_its_prints(app, client, api, db):
    body = issue(client, api)
    mine = connect_agent(app, api.kiosk)
    theirs = connect_agent(app, api.other_kiosk)
    browser = connect(app, token=token_of(api.kiosk))

    answer = report(theirs, ticket=body["id"], ok=True)
    assert answer["ok"] is False and answer["error"]["code"] == "not_your_ticket"
    answer = report(browser, ticket=body["id"], ok=True)
    assert answer["ok"] is False and answer["error"]["code"] == "forbidden"
    assert report(mine, ticket="1", ok=True)["error"]["code"] == "invalid_input"
    assert (
        browser.emit("printer.status", {"online": False}, namespace=NS, callback=True)["ok"]
        is False
    )
    assert ticket_row(db, body["id"]).print_state == "e_ticket"  # issued before any agent

    # Only a kiosk's token runs an agent, and it says which kind of agent it is.
    assert not connect(app, token=token_of(api.display), agent="printer").is_connected(NS)
    assert not connect(app, token=token_of(api.staff), agent="printer").is_connected(NS)
    assert not connect(app, token=token_of(api.kiosk), agent="led").is_connected(NS)


# ---- printer health ----------------------------------------------------------------------


def test_printer_health_is_stored_announced_and_decides_e_tickets(app, client, api, db):
    display = connect(app, token=token_of(api.display))
    received(display)
    agent = connect_agent(app, api.kiosk)
    [arrived] = named(received(display), "printer.status")
    assert (arrived["device"], arrived["mode"], arrived["agent_connected"]) == (
        "kiosk-1",
        "agent",
        True,
    )

    out = {
        "online": True,
        "paper": "out",
        "cover_open": False,
        "error": None,
        "reason": "paper_out",
    }
    assert agent.emit("printer.status", out, namespace=NS, callback=True) == {
        "ok": True,
        "changed": True,
    }
    [status] = named(received(display), "printer.status")
    assert (status["paper"], status["problem"], status["error"]) == (
        "out",
        "paper_out",
        "paper_out",
    )
    # The same report again (the agent's heartbeat) is not news.
    assert agent.emit("printer.status", out, namespace=NS, callback=True)["changed"] is False
    assert named(received(display), "printer.status") == []

    # Out of paper: the kiosk keeps issuing, as e-tickets, without waiting for a failure.
    assert issue(client, api)["print"] == {
        "number": "A001",
        "state": "e_ticket",
        "reason": "paper_out",
    }
    assert named(received(agent), "ticket.print") == []
    kiosk_snapshot = named(received(connect(app, token=token_of(api.kiosk))), "snapshot")[0]
    assert kiosk_snapshot["printer"]["paper"] == "out"
    assert kiosk_snapshot["printer"]["problem"] == "paper_out"
    manager = connect(app, token=token_of(api.manager))
    [printers] = [snap["printers"] for snap in named(received(manager), "snapshot")]
    assert [(p["device"], p["paper"], p["agent_connected"]) for p in printers] == [
        ("kiosk-1", "out", True)
    ]

    agent.emit("printer.status", {**out, "paper": "ok", "reason": None}, namespace=NS)
    assert issue(client, api)["print"]["state"] == "pending"
    assert [job["number"] for job in named(received(agent), "ticket.print")] == ["A002"]
    assert [e["paper"] for e in named(received(display), "printer.status")] == ["ok"]

    refused = agent.emit("printer.status", {"paper": "ok"}, namespace=NS, callback=True)
    assert (refused["ok"], refused["error"]["code"]) == (False, "invalid_input")
    agent.disconnect(NS)
    [gone] = named(received(display), "printer.status")
    assert (gone["mode"], gone["agent_connected"]) == (None, False)
    assert issue(client, api)["print"]["reason"] == "no_printer"


# ---- reconnecting ----------------------------------------------------------------------------


def test_a_reconnecting_agent_gets_the_recent_tickets_still_pending(app, client, api, db):
    agent = connect_agent(app, api.kiosk)
    printed = issue(client, api)
    lost = issue(client, api)  # the agent drops before printing this one
    old = issue(client, api)  # and this one, long ago
    called = issue(client, api, service="job-seeker")  # and this one, called since
    report(agent, ticket=printed["id"], ok=True)
    agent.disconnect(NS)
    away = issue(client, api)  # no agent now: an e-ticket, never printed later
    call_next(client, api, "3")
    with db.write() as s:
        s.get(Ticket, old["id"]).issued_at -= RECENT_PRINTS + timedelta(minutes=1)
    kiosk = connect(app, token=token_of(api.kiosk))
    received(kiosk)

    again = connect_agent(app, api.kiosk)

    snapshot = named(received(again), "snapshot")[0]
    assert [job["number"] for job in snapshot["pending"]] == [lost["number"]]
    assert snapshot["pending"][0]["print_id"] == job_id(db, lost["id"])
    assert ticket_row(db, away["id"]).print_state == "e_ticket"
    for stale in (old, called):
        row = ticket_row(db, stale["id"])
        assert (row.print_state, row.print_reason) == ("e_ticket", "agent_offline")
    # The kiosk hears that those two will not come out of the printer.
    assert sorted(
        (e["number"], e["state"]) for e in named(received(kiosk), "ticket.print_state")
    ) == sorted([(old["number"], "e_ticket"), (called["number"], "e_ticket")])


# ---- reprints ---------------------------------------------------------------------------------


def reprint(client, ticket_id: int, headers: dict):
    return client.post(f"{PREFIX}/tickets/{ticket_id}/reprint", headers=headers)


def test_reprint_sends_a_new_job_to_the_kiosks_printer(app, client, api, db):
    body = issue(client, api)
    assert_error(reprint(client, body["id"], api.staff), 409, "no_printer")

    agent = connect_agent(app, api.kiosk)
    received(agent)
    response = reprint(client, body["id"], api.staff)
    assert response.status_code == 202
    first = response.get_json()["print_id"]
    assert response.get_json() == {
        "number": "A001",
        "state": "pending",
        "reason": None,
        "print_id": first,
    }
    assert first == f"{job_id(db, body['id'])}" and first.endswith(".r1")
    [job] = named(received(agent), "ticket.print")
    assert (job["print_id"], job["reprint"], job["number"]) == (first, True, "A001")

    # The kiosk itself may ask again for its own ticket; each reprint is its own job.
    second = reprint(client, body["id"], api.kiosk).get_json()["print_id"]
    assert second == first.replace(".r1", ".r2")
    # A report on the superseded job is kept in the log but decides nothing.
    stale = report(agent, ticket=body["id"], print_id=first, ok=False, reason="timeout")
    assert stale["state"] == "pending"
    assert report(agent, ticket=body["id"], print_id=second, ok=True)["state"] == "printed"

    assert_error(reprint(client, body["id"], api.display), 403, "forbidden")
    assert_error(reprint(client, body["id"], api.other_kiosk), 403, "forbidden")
    assert_error(reprint(client, body["id"], api.other_staff), 403, "forbidden")
    assert_error(reprint(client, 999_999, api.staff), 404, "ticket_not_found")
    response = client.post(
        f"{PREFIX}/tickets/{body['id']}/reprint", json={"copies": 2}, headers=api.staff
    )
    assert_error(response, 422, "invalid_input")
    staff_ticket = issue(client, api, headers=api.staff)
    assert_error(reprint(client, staff_ticket["id"], api.staff), 409, "no_printer")

    call_next(client, api, "1")
    assert act(client, api, body["id"], "start").status_code == 200
    assert act(client, api, body["id"], "complete").status_code == 200
    assert_error(reprint(client, body["id"], api.staff), 409, "ticket_closed")
    with db.read() as s:
        reprints = s.scalar(
            select(func.count())
            .select_from(TicketEvent)
            .where(TicketEvent.ticket_id == body["id"], TicketEvent.action == "reprint")
        )
    assert reprints == 2


# ---- the server printing itself -------------------------------------------------------------


def factories_center(s) -> Center:
    return s.scalars(select(Center).where(Center.code == "baku-1")).one()


def events_until(sio, done, timeout: float = 10.0) -> list[tuple[str, dict]]:
    """Collect ``sio``'s events until ``done(events)`` holds (the server emits from a
    background task, after its commit)."""
    events: list[tuple[str, dict]] = []
    deadline = time.monotonic() + timeout
    while not done(events):
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting; got {events}")
        time.sleep(0.05)
        events += received(sio)
    return events


def settle(db, ticket_id: int, timeout: float = 15.0) -> SimpleNamespace:
    """The ticket once its print is no longer pending (the server prints in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = ticket_row(db, ticket_id)
        if row.print_state != "pending":
            return row
        time.sleep(0.05)
    pytest.fail(f"ticket {ticket_id} still pending after {timeout} s")


def set_printer(db, url: str | None) -> None:
    with db.write() as s:
        device = factories.device(s, factories_center(s), "kiosk-1")
        device.settings = {"language": "az", "printer": url} if url else {}


def test_the_server_prints_to_the_network_printer_in_the_kiosks_settings(app, client, api, db):
    with LoopbackPrinter() as printer:
        set_printer(db, printer.url)
        kiosk = connect(app, token=token_of(api.kiosk))
        snapshot = named(received(kiosk), "snapshot")[0]
        assert snapshot["settings"] == {"language": "az"}  # the address stays on the server
        assert snapshot["printer"]["mode"] == "server"

        body = issue(client, api, service="pension-recalc", language="en")
        assert body["print"]["state"] == "pending"

        row = settle(db, body["id"])
        assert row.print_state == "printed"
        [job] = printer.wait_for_jobs(1)
        assert shows_number(job, "B001")
        assert [qr.payload for qr in job.qr_codes] == [
            f"http://localhost/t/{body['tracking_token']}"
        ]
        states = events_until(kiosk, lambda evs: len(named(evs, "ticket.print_state")) >= 2)
        assert [e["state"] for e in named(states, "ticket.print_state")] == ["pending", "printed"]

        printer.set(paper_out=True)
        failed = settle(db, issue(client, api)["id"])
        assert (failed.print_state, failed.print_reason) == ("failed", "paper_out")
        assert len(printer.jobs) == 1
        with db.read() as s:
            device = s.get(Device, failed.device_id)
            assert device.printer_status["paper"] == "out"

        # A connected agent wins over the settings: it is on the kiosk itself. It tells
        # how its printer is as it connects (the stored status is the server's).
        ready = {"online": True, "paper": "ok", "cover_open": False}
        agent = connect_agent(app, api.kiosk, printer=ready)
        received(agent)
        via_agent = issue(client, api)
        assert [j["number"] for j in named(received(agent), "ticket.print")] == [
            via_agent["number"]
        ]
        assert ticket_row(db, via_agent["id"]).print_state == "pending"
        assert len(printer.jobs) == 1


def test_a_malformed_printer_setting_gives_e_tickets(client, api, db):
    set_printer(db, "lpt1")
    assert issue(client, api)["print"] == {
        "number": "A001",
        "state": "e_ticket",
        "reason": "printer_misconfigured",
    }
