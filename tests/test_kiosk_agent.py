"""The kiosk print agent end to end: a real server (``novbe serve``), the real agent
(``python -m server.cli kiosk-agent``) and a loopback printer that decodes what it
is sent. Tickets are issued over the API, as the kiosk does; the tests read what came
out of the printer and what the server recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import socketio
from sqlalchemy import select

from hardware.kiosk_journal import Journal
from hardware.loopback_printer import LoopbackPrinter
from server import printing
from server.models import Ticket

from .factories import names
from .live import LiveCenter, LiveServer, start_live_server
from .printer_helpers import shows_number

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


class Agent:
    """``novbe kiosk-agent`` as a child process, with its log in a file."""

    def __init__(self, server: LiveServer, center: LiveCenter, printer_url: str, state_dir: Path):
        self.log_path = state_dir.parent / f"agent-{time.monotonic_ns()}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "server.cli",
                    "kiosk-agent",
                    "--server",
                    server.url,
                    "--token",
                    center.kiosk_token,
                    "--printer",
                    printer_url,
                    "--state-dir",
                    str(state_dir),
                    "--retry-max",
                    "1",
                    # Asked before each ticket anyway; no polling racing the tests.
                    "--status-interval",
                    "3600",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pause(self) -> None:
        """Freeze the agent (its socket stays open; jobs pile up unread)."""
        os.kill(self.process.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{self.process.pid}/stat").read_text().split()[2] != "T":
            assert time.monotonic() < deadline, "the agent did not stop"
            time.sleep(0.01)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        """Die without a word, as on a power cut."""
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.resume()
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def agents():
    """Start agents with ``agents(server, center, printer_url, state_dir)``; all are
    stopped after the test, and their logs shown if it failed."""
    started: list[Agent] = []

    def start(*args) -> Agent:
        agent = Agent(*args)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()
        print(f"--- {agent.log_path.name}\n{agent.log()}")


def kiosk_snapshot(server: LiveServer, center: LiveCenter) -> dict:
    client = socketio.SimpleClient()
    client.connect(
        server.url, namespace="/live", auth={"token": center.kiosk_token}, transports=["websocket"]
    )
    try:
        event, data = client.receive(timeout=5)
        assert event == "snapshot"
        return data
    finally:
        client.disconnect()


def wait_for_agent(server: LiveServer, center: LiveCenter, connected: bool = True) -> dict:
    """Until the server sees the kiosk's agent (dis)connected; the kiosk's printer then."""
    deadline = time.monotonic() + 30
    while True:
        printer = kiosk_snapshot(server, center)["printer"]
        if printer["agent_connected"] is connected:
            return printer
        assert time.monotonic() < deadline, f"agent still connected={not connected}: {printer}"
        time.sleep(0.2)


def wait_print_state(server: LiveServer, ticket: dict, state: str) -> Ticket:
    deadline = time.monotonic() + 30
    while True:
        with server.db.read() as s:
            row = s.get(Ticket, ticket["id"])
            s.expunge(row)
        if row.print_state == state:
            return row
        assert time.monotonic() < deadline, f"{ticket['number']} is {row.print_state}, not {state}"
        time.sleep(0.05)


def printed_numbers(server: LiveServer, printer: LoopbackPrinter) -> list[str]:
    """The ticket number on each ticket that came out (cut) of the printer, in order: the
    number of the ticket its QR code tracks, which the ticket shows as its big picture."""
    numbers = []
    for job in printer.jobs:
        [qr] = job.qr_codes
        token = qr.payload.rsplit("/", 1)[1]
        number = server.api("GET", f"/tickets/{token}").json()["number"]
        assert shows_number(job, number), job.transcript()
        numbers.append(number)
    return numbers


class Listener:
    """A kiosk screen's connection: keeps every event, so waiting for one never loses
    another that came first."""

    def __init__(self, server: LiveServer, center: LiveCenter) -> None:
        self.client = socketio.SimpleClient()
        self.client.connect(
            server.url,
            namespace="/live",
            auth={"token": center.kiosk_token},
            transports=["websocket"],
        )
        self.seen: list[tuple[str, dict]] = []

    def wait(self, name: str, where=lambda data: True, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        checked = 0
        while True:
            for event, data in self.seen[checked:]:
                if event == name and where(data):
                    return data
            checked = len(self.seen)
            try:
                event, *args = self.client.receive(timeout=max(0.1, deadline - time.monotonic()))
            except socketio.exceptions.TimeoutError:
                pytest.fail(f"no {name} within {timeout} s; saw {self.seen}")
            self.seen.append((event, args[0] if args else None))

    def close(self) -> None:
        self.client.disconnect()


def test_the_agent_prints_each_ticket_and_a_printer_without_paper_gives_e_tickets(
    live_server, live_center, agents, tmp_path
):
    with LoopbackPrinter() as printer:
        agent = agents(live_server, live_center, printer.url, tmp_path / "state")
        assert wait_for_agent(live_server, live_center)["mode"] == "agent"
        kiosk = Listener(live_server, live_center)  # the kiosk's screen
        try:
            tickets = [
                live_server.issue(live_center, service, language)
                for service, language in [
                    ("pension-new", "az"),
                    ("job-seeker", "ru"),
                    ("pension-recalc", "en"),
                ]
            ]
            assert [t["print"]["state"] for t in tickets] == ["pending"] * 3
            for ticket in tickets:
                wait_print_state(live_server, ticket, "printed")
            assert printed_numbers(live_server, printer) == ["A001", "C001", "B001"]
            expected_names = [
                names("New pension")["az"],
                names("Job seeker registration")["ru"],
                names("Pension recalculation")["en"],
            ]
            for job, ticket, service_name in zip(
                printer.jobs, tickets, expected_names, strict=True
            ):
                job.line(service_name)
                assert [qr.payload for qr in job.qr_codes] == [
                    f"{live_server.url}/t/{ticket['tracking_token']}"
                ]
            assert printer.errors == []

            # Out of paper: the ticket fails with that reason, the kiosk shows the
            # e-ticket, and the center hears the printer is out.
            printer.set(paper_out=True)
            failed = live_server.issue(live_center, "pension-new", "en")
            row = wait_print_state(live_server, failed, "failed")
            assert row.print_reason == "paper_out"
            assert kiosk.wait(
                "ticket.print_state",
                lambda d: d["number"] == failed["number"] and d["state"] != "pending",
            ) == {"number": failed["number"], "state": "failed", "reason": "paper_out"}
            status = kiosk.wait("printer.status", lambda d: d["paper"] == "out")
            assert (status["device"], status["problem"]) == ("kiosk-1", "paper_out")
            # Known to be out: the next visitors get e-tickets at once, and keep coming.
            paperless = live_server.issue(live_center, "pension-new", "en")
            assert paperless["print"] == {
                "number": paperless["number"],
                "state": "e_ticket",
                "reason": "paper_out",
            }

            # Paper back in; staff reprint the failed ticket: it comes out, once.
            printer.set(paper_out=False)
            response = live_server.api(
                "POST", f"/tickets/{failed['id']}/reprint", live_center.staff_token
            )
            assert response.status_code == 202, response.text
            wait_print_state(live_server, failed, "printed")
            kiosk.wait("printer.status", lambda d: d["paper"] == "ok")
            after = live_server.issue(live_center, "pension-new", "az")
            wait_print_state(live_server, after, "printed")
        finally:
            kiosk.close()

        assert printed_numbers(live_server, printer) == [
            "A001",
            "C001",
            "B001",
            failed["number"],
            after["number"],
        ]
        assert agent.stop() == 0
        log = agent.log()
        assert "printed A001" in log and "paper_out" in log
        wait_for_agent(live_server, live_center, connected=False)
        gone = live_server.issue(live_center, "pension-new")
        assert gone["print"]["reason"] == "no_printer"


def restart(server: LiveServer, tmp_dir: Path) -> LiveServer:
    """Stop the server at once (SIGINT: gunicorn's quick shutdown, no goodbyes to the
    sockets) and start it again on the same port and database."""
    port = int(server.url.rsplit(":", 1)[1])
    server.process.send_signal(signal.SIGINT)
    server.stop()
    return start_live_server(tmp_dir, database_url=server.database_url, port=port)


def test_every_ticket_is_printed_once_across_agent_and_server_restarts(agents, tmp_path):
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
    server = start_live_server(tmp_path / "first")
    state = tmp_path / "state"
    try:
        center = server.new_center()
        with LoopbackPrinter() as printer:
            first = agents(server, center, printer.url, state)
            wait_for_agent(server, center)
            early = [server.issue(center, "pension-new"), server.issue(center, "job-seeker", "ru")]
            for ticket in early:
                wait_print_state(server, ticket, "printed")

            # The agent freezes: jobs wait unread in its socket. Then it dies.
            first.pause()
            lost, told, torn = (server.issue(center, "pension-new") for _ in range(3))
            assert {lost["print"]["state"], told["print"]["state"], torn["print"]["state"]} == {
                "pending"
            }
            first.kill()
            wait_for_agent(server, center, connected=False)
            away = server.issue(center, "pension-recalc")  # nobody to print it
            assert away["print"] == {
                "number": away["number"],
                "state": "e_ticket",
                "reason": "no_printer",
            }
            # As if the dead agent had printed `told` without reporting it, and died
            # halfway through `torn`: its journal says so.
            journal = Journal(state / "journal.jsonl")
            for ticket, events in ((told, ["started", "printed"]), (torn, ["started"])):
                with server.db.read() as s:
                    print_id = printing.print_id(s.get(Ticket, ticket["id"]))
                job = {
                    "print_id": print_id,
                    "ticket": ticket["id"],
                    "number": ticket["number"],
                }
                for event in events:
                    journal.record(job, event)

            second = agents(server, center, printer.url, state)
            wait_print_state(server, lost, "printed")
            wait_print_state(server, told, "printed")  # reported from the journal
            assert wait_print_state(server, torn, "failed").print_reason == "interrupted"

            # The server goes down with a job on its way to a frozen agent, and comes
            # back on the same address.
            second.pause()
            crossing = server.issue(center, "job-seeker")
            assert crossing["print"]["state"] == "pending"
            server = restart(server, tmp_path / "second")
            second.resume()
            wait_for_agent(server, center)
            wait_print_state(server, crossing, "printed")
            late = server.issue(center, "pension-new", "en")
            wait_print_state(server, late, "printed")

            counts = Counter(printed_numbers(server, printer))
            expected = [*early, lost, crossing, late]
            assert counts == Counter(ticket["number"] for ticket in expected)
            with server.db.read() as s:
                row = s.scalar(select(Ticket).where(Ticket.id == away["id"]))
                assert (row.print_state, row.print_reason) == ("e_ticket", "no_printer")
            assert "reconnecting" in second.log()
    finally:
        server.stop()


def test_a_bad_printer_address_or_token_stops_the_agent_with_the_reason(
    live_server, live_center, tmp_path
):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "server.cli", "kiosk-agent", "--server", live_server.url, *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )

    bad_printer = run(
        "--token", live_center.kiosk_token, "--printer", "lpt1", "--state-dir", str(tmp_path / "a")
    )
    assert bad_printer.returncode == 2
    assert "Accepted forms" in bad_printer.stderr and "tcp://" in bad_printer.stderr

    bad_token = run(
        "--token",
        "dv_not-a-real-token",
        "--printer",
        "dummy://",
        "--state-dir",
        str(tmp_path / "b"),
    )
    assert bad_token.returncode == 2
    assert "invalid or expired token" in bad_token.stderr

    display = run(
        "--token",
        live_center.display_token,
        "--printer",
        "dummy://",
        "--state-dir",
        str(tmp_path / "c"),
    )
    assert display.returncode == 2
    assert "only a kiosk" in display.stderr
