"""The demo's printing path as a user meets it: ``novbe loopback-printer`` as a process,
the server printing a kiosk's tickets to it (device setting ``printer``), each ticket
written out readable, and an out-of-paper printer turning tickets into e-tickets. And
the demo's ports: ``make demo PORT=... PRINTER_PORT=...``, and a port already in use."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from server.i18n import catalog
from server.models import Center, Device, Ticket

from .live import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


def wait_for(predicate, timeout: float = 15.0, what: str = "it"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def print_state(live_server, number: str, code: str) -> tuple[str, str | None]:
    prefix, digits = re.fullmatch(r"([A-Z]+)(\d+)", number).groups()
    with live_server.db.read() as s:
        ticket = s.scalar(
            select(Ticket)
            .join(Center)
            .where(Center.code == code, Ticket.prefix == prefix, Ticket.number == int(digits))
        )
        return ticket.print_state, ticket.print_reason


def printed_text(folder: Path, ticket: dict) -> str | None:
    """The transcript of the printed ticket, once the printer wrote it: the one whose QR
    code is this ticket's address (its number is a picture, not text)."""
    for path in sorted(folder.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if f"/t/{ticket['tracking_token']}]" in text:
            return text
    return None


@pytest.mark.browser
def test_the_server_prints_to_the_loopback_printer_and_paper_out_gives_e_tickets(
    live_server, tmp_path, new_page
):
    port, out = free_port(), tmp_path / "prints"
    printer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "loopback-printer",
            "--port",
            str(port),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "loopback printer on" in printer.stdout.readline()
        center = live_server.new_center()
        with live_server.db.write() as s:
            kiosk = s.scalar(
                select(Device)
                .join(Center)
                .where(Center.code == center.code, Device.name == "kiosk-1")
            )
            kiosk.settings = {"printer": f"tcp://127.0.0.1:{port}?timeout=3"}

        for language, words in (
            ("az", "Sizin nömrəniz"),
            ("ru", "Ваш номер"),
            ("en", "Your number"),
        ):
            issued = live_server.issue(center, "pension-new", language=language)
            number = issued["number"]
            text = wait_for(lambda t=issued: printed_text(out, t), what=f"printing {number}")
            if language != "az":  # Azerbaijani words with ə are printed as an image
                # The number is the picture right after "your number".
                assert re.search(rf"{words}\n\[picture 576 x \d+ dots\]\n", text), text
            assert wait_for(
                lambda n=number: print_state(live_server, n, center.code)[0] == "printed"
            )
        assert len(list(out.glob("*.png"))) == 3

        (out / "PAPER_OUT").touch()
        time.sleep(1)  # the printer looks at the marker every 0.3 s
        ticket = live_server.issue(center, "pension-new", language="en")
        state = wait_for(
            lambda: (
                (s := print_state(live_server, ticket["number"], center.code))[0] != "pending" and s
            ),
            what="a print result",
        )
        assert state == ("failed", "paper_out")
        assert len(list(out.glob("*.txt"))) == 3  # nothing printed without paper

        # A visitor at that kiosk now gets an e-ticket on the screen, and is told why.
        words = catalog(ROOT / "kiosk" / "translations")["en"]
        page = new_page(1080, 1920)
        page.goto(f"{live_server.url}/kiosk/kiosk-1#token={center.kiosk_token}")
        page.click("button[data-lang=en]")
        page.click("button[data-category=pensions]")
        page.click("button[data-service=pension-recalc]")
        expect(page.locator("#ticket-number")).to_have_text("B001")
        state = page.locator("#print-state")
        # "failed": this ticket went to the printer and did not come out.
        expect(state).to_have_attribute("data-state", re.compile(r"^(failed|e_ticket)$"))
        expect(state).to_have_attribute("data-reason", "paper_out")
        expect(state.locator(".print-why")).to_have_text(words["kiosk.print.reason.paper_out"])
        expect(page.locator("#ticket-qr")).to_be_visible()
    finally:
        printer.terminate()
        printer.wait(10)


def test_make_demo_passes_its_ports_and_the_readme_says_how():
    dry_run = subprocess.run(
        ["make", "-n", "demo", "PORT=8000", "PRINTER_PORT=9200"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "novbe demo --port 8000 --printer-port 9200" in dry_run
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo PORT=8000 PRINTER_PORT=9200" in readme


@pytest.mark.parametrize(
    ("option", "variable", "what"),
    [("--port", "PORT", "demo server"), ("--printer-port", "PRINTER_PORT", "loopback printer")],
)
def test_a_port_in_use_stops_the_demo_with_a_line_naming_it(tmp_path, option, variable, what):
    database = tmp_path / "demo.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = {"--port": free_port(), "--printer-port": free_port(), option: port}
        result = subprocess.run(
            [sys.executable, "-m", "server.cli", "demo"]
            + [str(part) for pair in ports.items() for part in pair],
            env=dict(os.environ, NOVBE_DATABASE_URL=f"sqlite:///{database}"),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line == (
        f"Error: port {port} for the {what} on 127.0.0.1 is already in use (is another demo "
        f"running?); choose another with `make demo {variable}=<port>` or "
        f"`novbe demo {option} <port>`"
    )
    assert not database.exists()  # it stopped before setting anything up
