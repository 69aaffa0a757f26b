"""Printing a ticket as one job (hardware/printer/): one connection per ticket, the
printer asked before and after, each printer state and failure with its reason, every
kind of connection that can run here (tcp and serial to the loopback printer, file,
dummy), and ``python -m hardware.printer``. The loopback printer (hardware/loopback_printer/)
answers DLE EOT status queries from its simulated state. No real device, no mocks of
python-escpos.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from hardware.loopback_printer import LoopbackPrinter, LoopbackSerialPrinter, decode
from hardware.printer import PrintError, PrinterStatus, TicketPrinter, status_from_replies

from .printer_helpers import PHONE_URL, shows_number, ticket

# ---- one job per ticket ------------------------------------------------------------------


def test_one_connection_per_ticket_and_status_around_each():
    with LoopbackPrinter() as loopback:
        printer = TicketPrinter(loopback.url)
        for lang in ("az", "ru", "en"):
            printer.print_ticket(ticket(lang))
        jobs = loopback.wait_for_jobs(3)
    assert loopback.connections == 3
    assert [job.cut for job in jobs] == ["partial"] * 3
    assert loopback.status_queries == [1, 2, 4, 1, 2, 4] * 3
    assert printer.last_status == PrinterStatus(online=True, paper="ok", cover_open=False)
    assert loopback.unfinished == [] and loopback.errors == []


def test_status_queries_can_be_turned_off():
    with LoopbackPrinter(paper_out=True) as loopback:
        printer = TicketPrinter(loopback.url + "?status=off")
        printer.print_ticket(ticket("en"))  # it cannot know
        time.sleep(0.05)
        status = printer.status()
        deadline = time.monotonic() + 5
        while not loopback.discarded and time.monotonic() < deadline:
            time.sleep(0.01)
    assert loopback.status_queries == []
    assert len(loopback.discarded) == 1 and loopback.jobs == []
    assert (status.online, status.paper, status.ok) == (True, "unknown", True)


# ---- health and failures -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "reason", "expected"),
    [
        ({}, None, {"online": True, "paper": "ok", "cover_open": False, "ok": True}),
        ({"paper_low": True}, None, {"online": True, "paper": "low", "ok": True}),
        ({"paper_out": True}, "paper_out", {"online": True, "paper": "out", "ok": False}),
        ({"cover_open": True}, "cover_open", {"cover_open": True, "paper": "ok", "ok": False}),
        ({"cutter_error": True}, "error", {"online": True, "ok": False}),
        ({"offline": True}, "offline", {"online": False, "paper": "unknown", "ok": False}),
    ],
)
def test_status_and_printing_in_each_printer_state(state, reason, expected):
    with LoopbackPrinter(**state) as loopback:
        printer = TicketPrinter(loopback.url)
        status = printer.status()
        if reason is None:
            printer.print_ticket(ticket("ru"))
            loopback.wait_for_jobs(1)
        else:
            with pytest.raises(PrintError) as caught:
                printer.print_ticket(ticket("ru"))
            assert caught.value.reason == reason
            assert loopback.jobs == [] and loopback.discarded == []  # nothing was sent to print
    for name, value in expected.items():
        assert status.as_dict()[name] == value, name
    assert status.reason == reason
    if reason == "error":
        assert "autocutter" in status.error


def test_printer_comes_back_after_paper_is_loaded():
    with LoopbackPrinter(paper_out=True) as loopback:
        printer = TicketPrinter(loopback.url)
        assert printer.status().paper == "out"
        loopback.set(paper_out=False, offline=True)
        assert printer.status().reason == "offline"
        loopback.set(offline=False)
        printer.print_ticket(ticket("en"))
        loopback.wait_for_jobs(1)
        assert printer.status().ok


def test_no_answer_is_a_timeout_not_an_empty_paper_roll():
    with LoopbackPrinter(slow=5) as loopback:
        printer = TicketPrinter(loopback.url, timeout=0.5)
        started = time.monotonic()
        status = printer.status()
        with pytest.raises(PrintError) as caught:
            printer.print_ticket(ticket("en"))
        elapsed = time.monotonic() - started
    assert caught.value.reason == "timeout"
    assert "no answer within 0.5 s" in str(caught.value)
    assert (status.online, status.paper, status.cover_open, status.reason) == (
        False,
        "unknown",
        None,
        "timeout",
    )
    assert "no answer" in status.error
    assert elapsed < 8 * 0.5 + 2  # bounded by the time-out, not the printer's 5 s
    assert loopback.jobs == []


def test_connection_dropped_mid_ticket():
    with LoopbackPrinter(drop_after=200) as loopback:
        printer = TicketPrinter(loopback.url, timeout=0.5)
        with pytest.raises(PrintError) as caught:
            printer.print_ticket(ticket("ru"))
        deadline = time.monotonic() + 5
        while not loopback.unfinished and time.monotonic() < deadline:
            time.sleep(0.01)
    assert caught.value.reason in ("disconnected", "timeout")
    assert loopback.jobs == []
    [partial] = loopback.unfinished
    assert partial.cut is None and partial.line("Центр DOST №3")
    assert partial.qr_codes == [] and "Ваш номер вызовут" not in partial.text


def test_serial_printer_over_a_pseudo_terminal():
    with LoopbackSerialPrinter(baudrate=115200) as loopback:
        printer = TicketPrinter(loopback.url)
        printer.print_ticket(ticket("ru", paper_mm=58))
        [job] = loopback.wait_for_jobs(1)
        assert printer.status().ok
        loopback.set(cover_open=True)
        status = printer.status()
        with pytest.raises(PrintError) as caught:
            printer.print_ticket(ticket("ru"))
    assert loopback.errors == []
    assert job.line("Новая пенсия").code_pages == ("cp866",)
    assert job.line("-" * 32)
    assert (status.cover_open, status.ok, caught.value.reason) == (True, False, "cover_open")


def test_serial_printer_that_never_answers_times_out():
    with LoopbackSerialPrinter(slow=5) as loopback:
        printer = TicketPrinter(loopback.url, timeout=0.5)
        with pytest.raises(PrintError) as caught:
            printer.print_ticket(ticket("en"))
    assert caught.value.reason == "timeout"


def test_dummy_printer_keeps_the_bytes():
    printer = TicketPrinter("dummy://")
    printer.print_ticket(ticket("en"))
    printer.print_ticket(ticket("ru", number="B007"))
    decoded = decode(printer.output)
    assert decoded.errors == [] and decoded.unfinished is None
    first, second = decoded.jobs
    assert shows_number(first, "A012") and shows_number(second, "B007")
    assert decoded.jobs[1].line("Новая пенсия")
    assert printer.status().ok
    printer.clear_output()
    assert printer.output == b""
    assert not hasattr(TicketPrinter("tcp://10.0.0.9"), "output")


def test_file_printer_writes_the_ticket(tmp_path):
    target = tmp_path / "lp0"
    printer = TicketPrinter(f"file://{target}")
    assert printer.status().ok
    printer.print_ticket(ticket("az"))
    decoded = decode(target.read_bytes())
    assert decoded.errors == []
    [job] = decoded.jobs
    assert job.line("Ünvan qeydiyyatı") and len(job.images) == 7  # 6 lines and the number


def test_missing_device_file_is_offline():
    printer = TicketPrinter("file:///dev/usb/novbe-no-such-lp9")
    with pytest.raises(PrintError) as caught:
        printer.print_ticket(ticket("en"))
    assert caught.value.reason == "offline"
    status = printer.status()
    assert (status.online, status.reason) == (False, "offline")


def test_device_file_that_takes_no_data_times_out(tmp_path):
    fifo = tmp_path / "stuck-printer"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # opened, never read
    try:
        printer = TicketPrinter(f"file://{fifo}?timeout=0.3")
        started = time.monotonic()
        with pytest.raises(PrintError) as caught:
            printer.send(b"\x1b@" + b"x" * 1_000_000)  # more than the pipe holds
        elapsed = time.monotonic() - started
    finally:
        os.close(reader)
    assert caught.value.reason == "timeout"
    assert elapsed < 10


@pytest.mark.parametrize(
    ("url", "modules", "extra"),
    [
        ("usb://04b8:0e15", ("usb", "usb.core"), "python-escpos[usb]"),
        ("serial:///dev/ttyUSB0", ("serial",), "python-escpos[serial]"),
        ("cups://Kiosk", ("cups",), "python-escpos[cups]"),
    ],
)
def test_missing_driver_names_the_pip_extra(monkeypatch, url, modules, extra):
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    with pytest.raises(PrintError) as caught:
        TicketPrinter(url)
    assert caught.value.reason == "dependency"
    assert f"pip install '{extra}'" in str(caught.value)


def test_one_job_at_a_time_per_printer():
    with LoopbackPrinter() as loopback:
        printer = TicketPrinter(loopback.url)
        errors: list[BaseException] = []

        def run(lang: str) -> None:
            try:
                printer.print_ticket(ticket(lang))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(lang,)) for lang in ("az", "ru", "en") * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        jobs = loopback.wait_for_jobs(6)
    assert errors == [] and loopback.errors == [] and loopback.unfinished == []
    assert sorted(job.qr_codes[0].payload for job in jobs) == [PHONE_URL] * 6


# ---- pieces ------------------------------------------------------------------------------


def test_status_bytes_per_the_esc_pos_reference():
    assert status_from_replies(0x12, 0x12, 0x12).ok
    assert status_from_replies(0x12, 0x12, 0x1E).paper == "low"
    out = status_from_replies(0x1A, 0x32, 0x7E)
    assert (out.paper, out.online, out.reason) == ("out", True, "paper_out")
    cover = status_from_replies(0x1A, 0x16, 0x12)
    assert (cover.cover_open, cover.reason) == (True, "cover_open")
    offline = status_from_replies(0x1A, 0x12, 0x12)
    assert (offline.online, offline.reason) == (False, "offline")
    unknown = status_from_replies(0x12, None, None)
    assert (unknown.paper, unknown.cover_open) == ("unknown", None)


def test_try_a_printer_from_the_command_line(capsys):
    from hardware.printer import main

    with LoopbackPrinter() as loopback:
        assert main([loopback.url, "--sample", "az", "--paper", "58"]) == 0
        [job] = loopback.wait_for_jobs(1)
    out = capsys.readouterr().out
    assert "printed a sample ticket (az, 58 mm)" in out
    assert '"paper": "ok"' in out and '"ok": true' in out
    assert job.line("Yeni pensiya") and job.line("-" * 32)

    assert main(["tcp://10.0.0.9:http"]) == 2
    assert "Accepted forms" in capsys.readouterr().err
    with LoopbackPrinter(paper_out=True) as loopback:
        assert main([loopback.url, "--sample", "en"]) == 1
    assert "not printed: paper_out" in capsys.readouterr().err
