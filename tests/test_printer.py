"""Ticket printing (hardware/printer.py, hardware/ticket.py) against a fake ESC/POS printer.

The fake (tests/fake_printer.py) decodes the byte stream the way a printer does: code pages,
character sizes, QR codes, raster images, cuts, and answers DLE EOT status queries from its
simulated state. No real device, no mocks of python-escpos.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
import qrcode
from escpos.image import EscposImage

from hardware.escpos_render import PAPER_DOTS, find_font, text_image
from hardware.loopback_printer import FakeNetworkPrinter, FakeSerialPrinter, RasterImage, decode
from hardware.printer import (
    ACCEPTED_FORMS,
    PrintError,
    PrinterStatus,
    PrinterUrlError,
    TicketPrinter,
    parse_printer_url,
    status_from_replies,
)
from hardware.ticket import TicketPrint, format_wait

PHONE_URL = "http://127.0.0.1:5000/t/Xy7Kq2mN9pLw"
ISSUED = datetime(2026, 3, 12, 6, 42, tzinfo=UTC)  # 10:42 in Baku
NAMES = {
    # The Azerbaijani service name has no ə: it fits a code page (ü and ı are in CP857).
    "az": ("DOST mərkəzi №3", "Ünvan qeydiyyatı"),
    "ru": ("Центр DOST №3", "Новая пенсия"),
    "en": ("DOST center No. 3", "New pension"),
}
# POS-5890 (a common 58 mm printer without native QR) numbers its code pages its own way.
POS5890_CODE_PAGES = {52: "cp437", 59: "cp866", 61: "cp857", 73: "cp1251", 91: "cp1254"}


def ticket(lang: str = "en", **changes) -> TicketPrint:
    center, service = NAMES[lang]
    fields = {
        "center_name": center,
        "number": "A012",
        "service_name": service,
        "language": lang,
        "issued_at": ISSUED,
        "timezone": "Asia/Baku",
        "phone_url": PHONE_URL,
        "position": 4,
        "estimated_wait_s": 780,
    }
    fields.update(changes)
    return TicketPrint(**fields)


def print_one(fake, ticket_: TicketPrint, url: str | None = None, **options):
    printer = TicketPrinter(url or fake.url, **options)
    printer.print_ticket(ticket_)
    [job] = fake.wait_for_jobs(1)
    assert fake.errors == []
    return printer, job


def print_torn_off(fake, ticket_: TicketPrint, url: str):
    """A printer without a cutter: the ticket is fed out to be torn off (no GS V)."""
    TicketPrinter(url).print_ticket(ticket_)
    deadline = time.monotonic() + 5
    while not fake.unfinished and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.jobs == [] and fake.errors == []
    [job] = fake.unfinished
    return job


def expected_raster(text: str, width: int, scale: int = 1, bold: bool = False) -> bytes:
    """The dots python-escpos sends for ``text`` drawn as the renderer draws it."""
    return EscposImage(text_image(text, width, 24 * scale, bold=bold)).to_raster_format()


def qr_modules(data: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


# ---- printer addresses -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("usb://04b8:0e15", {"kind": "usb", "vendor_id": 0x04B8, "product_id": 0x0E15}),
        (
            "usb://0x0416:0x5011?in_ep=0x81&out_ep=3",
            {"vendor_id": 0x0416, "product_id": 0x5011, "in_ep": 0x81, "out_ep": 3},
        ),
        ("tcp://192.168.1.50", {"kind": "tcp", "host": "192.168.1.50", "port": 9100}),
        (
            "tcp://printer.hall.local:9101?profile=TM-T88V&paper=58&timeout=2.5",
            {"host": "printer.hall.local", "port": 9101, "profile": "TM-T88V", "paper": 58},
        ),
        ("TCP://[fd00::7]:9100", {"kind": "tcp", "host": "fd00::7", "port": 9100}),
        (
            "serial:///dev/ttyUSB0?baudrate=19200",
            {"kind": "serial", "device": "/dev/ttyUSB0", "baudrate": 19200},
        ),
        ("serial:///dev/ttyS0", {"device": "/dev/ttyS0", "baudrate": 9600}),
        ("file:///dev/usb/lp0", {"kind": "file", "device": "/dev/usb/lp0"}),
        ("cups://Kiosk_Printer", {"kind": "cups", "queue": "Kiosk_Printer"}),
        ("dummy://", {"kind": "dummy", "status_queries": False}),
        ("tcp://10.0.0.9?status=off", {"status_queries": False}),
    ],
)
def test_accepted_printer_addresses(url, expected):
    spec = parse_printer_url(url)
    for name, value in expected.items():
        assert getattr(spec, name) == value, name
    assert spec.url == url


def test_address_options_and_defaults():
    tcp = parse_printer_url("tcp://10.0.0.9")
    assert (tcp.status_queries, tcp.effective_timeout, tcp.paper, tcp.profile) == (
        True,
        3.0,
        None,
        None,
    )
    assert parse_printer_url("tcp://10.0.0.9?timeout=2.5").effective_timeout == 2.5
    assert parse_printer_url("serial:///dev/ttyS0").effective_timeout == 5.0
    assert parse_printer_url("file:///dev/usb/lp0").status_queries is False


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "empty printer address"),
        ("printer-1", "no kind of printer"),
        ("http://10.0.0.9", "unknown kind of printer 'http'"),
        ("usb://04b8", "usb:// needs VID:PID"),
        ("usb://04bz:0e15", "usb:// needs VID:PID"),
        ("usb://0000:0e15", "must not be 0"),
        ("usb://04b8:0e15?in_ep=300", "in_ep must be between 1 and 255"),
        ("tcp://", "tcp:// needs a host"),
        ("tcp://10.0.0.9:99999", "port must be a number"),
        ("tcp://10.0.0.9:http", "port must be a number"),
        ("tcp://admin@10.0.0.9", "tcp:// needs a host"),
        ("tcp://bad_host!:9100", "is not a host name"),
        ("serial://dev/ttyUSB0", "three slashes"),
        ("serial:///dev/ttyUSB0?baudrate=12345", "baudrate 12345 is not one of"),
        ("serial:///dev/ttyUSB0?baud=19200", "unknown option 'baud'"),
        ("file://dev/usb/lp0", "file:// needs an absolute path"),
        ("cups://", "cups:// needs a CUPS queue name"),
        ("cups://Kiosk Printer", "cups:// needs a CUPS queue name"),
        ("dummy://printer", "dummy:// takes no host or path"),
        ("dummy://?baudrate=9600", "unknown option 'baudrate'"),
        ("tcp://10.0.0.9?paper=57", "paper must be 58 or 80"),
        ("tcp://10.0.0.9?timeout=0", "timeout must be seconds"),
        ("tcp://10.0.0.9?timeout=soon", "timeout must be seconds"),
        ("tcp://10.0.0.9?profile=TM-X1", "unknown printer profile 'TM-X1'"),
        ("tcp://10.0.0.9?status=maybe", "status must be on or off"),
        ("tcp://10.0.0.9?timeout=1&timeout=2", "given twice"),
        ("tcp://10.0.0.9?timeout=", "has no value"),
    ],
)
def test_bad_printer_addresses_list_the_accepted_forms(url, problem):
    with pytest.raises(PrinterUrlError) as caught:
        parse_printer_url(url)
    message = str(caught.value)
    assert problem in message
    assert isinstance(caught.value, ValueError)
    for form in ACCEPTED_FORMS:
        assert form in message
    assert "profile=" in message and "paper=58|80" in message


# ---- the ticket on paper, in three languages -------------------------------------------


def test_english_ticket_is_text_with_a_native_qr_code():
    with FakeNetworkPrinter() as fake:
        _, job = print_one(fake, ticket("en"))
    assert job.cut == "partial"
    assert job.images == []
    assert [qr.payload for qr in job.qr_codes] == [PHONE_URL]
    assert job.qr_codes[0].error_correction == "M"
    center = job.line("DOST center No. 3")
    assert (center.width, center.height, center.bold) == (2, 2, True)
    number = job.line("A012")
    assert (number.width, number.height, number.bold) == (6, 6, True)
    assert job.line("New pension").bold
    for text in ("Your number", "12.03.2026 10:42", "Your place in line: 4"):
        job.line(text)
    job.line("Estimated wait: ~13 min")
    assert "Scan the QR code to follow your turn on your" in job.text
    assert "Your number will be called on the screens in the" in job.text
    # Order: name, number, service, time, position, wait, QR, help.
    order = [job.text.index(part) for part in ("DOST", "A012", "New pension", "10:42", "~13")]
    assert order == sorted(order)
    assert job.kinds().index("qr") > job.kinds().index("text")
    assert all(line.align == "center" for line in job.lines)


def test_russian_ticket_is_text_in_a_cyrillic_code_page():
    with FakeNetworkPrinter() as fake:
        _, job = print_one(fake, ticket("ru"))
    assert job.images == []
    for text in (
        "Центр DOST №3",
        "Ваш номер",
        "Новая пенсия",
        "Ваше место в очереди: 4",
        "Примерное ожидание: ~13 мин",
    ):
        line = job.line(text)
        assert line.code_pages == ("cp866",), text
    assert "Ваш номер вызовут на экранах в зале." in job.text
    assert [qr.payload for qr in job.qr_codes] == [PHONE_URL]


def test_azerbaijani_lines_with_schwa_are_printed_as_images():
    with FakeNetworkPrinter() as fake:
        _, job = print_one(fake, ticket("az"))
    # No code page holds ə: those paragraphs are pictures; the rest is text.
    assert job.kinds() == [
        "image",  # DOST mərkəzi №3
        "text",  # rule
        "image",  # Sizin nömrəniz
        "text",  # A012
        "text",  # Ünvan qeydiyyatı
        "text",  # date and time
        "image",  # Növbədə yeriniz: 4
        "image",  # Təxmini gözləmə: ~13 dəq
        "text",  # rule
        "qr",
        "image",  # scan the QR code
        "image",  # help line
    ]
    assert "ə" not in job.text and "?" not in job.text
    service = job.line("Ünvan qeydiyyatı")
    assert service.bold and service.code_pages in (("cp857",), ("cp1254",))
    job.line("12.03.2026 10:42")
    assert (job.line("A012").width, job.line("A012").height) == (6, 6)
    images = job.images
    assert all(image.width == PAPER_DOTS[80] for image in images)
    assert images[0].data == expected_raster("DOST mərkəzi №3", 576, scale=2, bold=True)
    assert images[1].data == expected_raster("Sizin nömrəniz", 576)
    assert images[2].data == expected_raster("Növbədə yeriniz: 4", 576)
    assert images[3].data == expected_raster("Təxmini gözləmə: ~13 dəq", 576)
    assert images[0].height > images[1].height  # the center's name is drawn larger
    assert [qr.payload for qr in job.qr_codes] == [PHONE_URL]


def test_the_font_for_image_text_covers_azerbaijani_and_cyrillic():
    from PIL import ImageFont

    font = ImageFont.truetype(find_font(), 24)
    notdef = font.getmask("\uffff").getbbox()
    for char in "əğıöşüçƏĞİÖŞÜÇжЯ№":
        assert font.getmask(char).getbbox() != notdef, char


def test_without_a_cyrillic_code_page_russian_is_printed_as_images():
    # The T-1's code pages are all Latin (CP437, CP850, CP858, ...).
    with FakeNetworkPrinter() as fake:
        _, job = print_one(fake, ticket("ru"), url=fake.url + "?profile=T-1")
    assert not any("\u0400" <= char <= "\u04ff" for char in job.text)
    assert job.line("A012").width == 6 and job.line("12.03.2026 10:42")
    assert [qr.payload for qr in job.qr_codes] == [PHONE_URL]
    # name, "your number", service, position, wait, scan, help
    assert len(job.images) == 7
    assert job.images[2].data == expected_raster("Новая пенсия", 504, bold=True)


def test_qr_code_is_an_image_when_the_profile_has_no_native_qr():
    with FakeNetworkPrinter(code_pages=POS5890_CODE_PAGES) as fake:
        job = print_torn_off(fake, ticket("en", paper_mm=58), fake.url + "?profile=POS-5890")
    assert job.qr_codes == []
    [qr_image] = job.images
    assert qr_image.width == PAPER_DOTS[58]
    assert qr_image.qr_matrix() == qr_modules(PHONE_URL)
    left, _, right, _ = qr_image.bbox()
    assert abs(left - (qr_image.width - 1 - right)) <= 1  # centered
    job.line("New pension")


def test_russian_on_a_printer_with_other_code_page_numbers():
    with FakeNetworkPrinter(code_pages=POS5890_CODE_PAGES) as fake:
        job = print_torn_off(fake, ticket("ru", paper_mm=58), fake.url + "?profile=POS-5890")
    assert job.line("Новая пенсия").code_pages == ("cp866",)


def test_58_and_80_mm_layouts():
    long_service = "Replacement of a lost identity card for citizens"
    jobs = {}
    for paper in (80, 58):
        with FakeNetworkPrinter() as fake:
            _, jobs[paper] = print_one(
                fake, ticket("en", paper_mm=paper, service_name=long_service)
            )
    wide, narrow = jobs[80], jobs[58]
    assert wide.line("-" * 48) and narrow.line("-" * 32)
    assert (wide.line("A012").width, narrow.line("A012").width) == (6, 4)
    assert max(len(line.text) * line.width for line in wide.lines) <= 48
    assert max(len(line.text) * line.width for line in narrow.lines) <= 32
    assert "Replacement of a lost identity card for citizens" in wide.text.split("\n")
    assert "Replacement of a lost identity" in narrow.text.split("\n")
    assert (wide.qr_codes[0].module_size, narrow.qr_codes[0].module_size) == (6, 5)

    az = {}
    for paper in (80, 58):
        with FakeNetworkPrinter() as fake:
            _, az[paper] = print_one(fake, ticket("az"), url=f"{fake.url}?paper={paper}")
    assert {image.width for image in az[80].images} == {576}
    assert {image.width for image in az[58].images} == {384}
    # The address's paper= wins over the ticket's paper_mm.
    assert az[58].line("-" * 32)


def test_profile_width_narrower_than_the_paper():
    with FakeNetworkPrinter() as fake:  # TM-T88V prints 512 dots (42 columns) on 80 mm paper
        _, job = print_one(fake, ticket("az"), url=fake.url + "?profile=TM-T88V")
    assert job.line("-" * 42)
    assert {image.width for image in job.images} == {512}


def test_one_connection_per_ticket_and_status_around_each():
    with FakeNetworkPrinter() as fake:
        printer = TicketPrinter(fake.url)
        for lang in ("az", "ru", "en"):
            printer.print_ticket(ticket(lang))
        jobs = fake.wait_for_jobs(3)
    assert fake.connections == 3
    assert [job.cut for job in jobs] == ["partial"] * 3
    assert fake.status_queries == [1, 2, 4, 1, 2, 4] * 3
    assert printer.last_status == PrinterStatus(online=True, paper="ok", cover_open=False)
    assert fake.unfinished == [] and fake.errors == []


def test_status_queries_can_be_turned_off():
    with FakeNetworkPrinter(paper_out=True) as fake:
        printer = TicketPrinter(fake.url + "?status=off")
        printer.print_ticket(ticket("en"))  # it cannot know
        time.sleep(0.05)
        status = printer.status()
        deadline = time.monotonic() + 5
        while not fake.discarded and time.monotonic() < deadline:
            time.sleep(0.01)
    assert fake.status_queries == []
    assert len(fake.discarded) == 1 and fake.jobs == []
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
    with FakeNetworkPrinter(**state) as fake:
        printer = TicketPrinter(fake.url)
        status = printer.status()
        if reason is None:
            printer.print_ticket(ticket("ru"))
            fake.wait_for_jobs(1)
        else:
            with pytest.raises(PrintError) as caught:
                printer.print_ticket(ticket("ru"))
            assert caught.value.reason == reason
            assert fake.jobs == [] and fake.discarded == []  # nothing was sent to print
    for name, value in expected.items():
        assert status.as_dict()[name] == value, name
    assert status.reason == reason
    if reason == "error":
        assert "autocutter" in status.error


def test_printer_comes_back_after_paper_is_loaded():
    with FakeNetworkPrinter(paper_out=True) as fake:
        printer = TicketPrinter(fake.url)
        assert printer.status().paper == "out"
        fake.set(paper_out=False, offline=True)
        assert printer.status().reason == "offline"
        fake.set(offline=False)
        printer.print_ticket(ticket("en"))
        fake.wait_for_jobs(1)
        assert printer.status().ok


def test_no_answer_is_a_timeout_not_an_empty_paper_roll():
    with FakeNetworkPrinter(slow=5) as fake:
        printer = TicketPrinter(fake.url, timeout=0.5)
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
    assert fake.jobs == []


def test_connection_dropped_mid_ticket():
    with FakeNetworkPrinter(drop_after=200) as fake:
        printer = TicketPrinter(fake.url, timeout=0.5)
        with pytest.raises(PrintError) as caught:
            printer.print_ticket(ticket("ru"))
        deadline = time.monotonic() + 5
        while not fake.unfinished and time.monotonic() < deadline:
            time.sleep(0.01)
    assert caught.value.reason in ("disconnected", "timeout")
    assert fake.jobs == []
    [partial] = fake.unfinished
    assert partial.cut is None and partial.line("Центр DOST №3")
    assert partial.qr_codes == [] and "Ваш номер вызовут" not in partial.text


def test_serial_printer_over_a_pseudo_terminal():
    with FakeSerialPrinter(baudrate=115200) as fake:
        printer = TicketPrinter(fake.url)
        printer.print_ticket(ticket("ru", paper_mm=58))
        [job] = fake.wait_for_jobs(1)
        assert printer.status().ok
        fake.set(cover_open=True)
        status = printer.status()
        with pytest.raises(PrintError) as caught:
            printer.print_ticket(ticket("ru"))
    assert fake.errors == []
    assert job.line("Новая пенсия").code_pages == ("cp866",)
    assert job.line("-" * 32)
    assert (status.cover_open, status.ok, caught.value.reason) == (True, False, "cover_open")


def test_serial_printer_that_never_answers_times_out():
    with FakeSerialPrinter(slow=5) as fake:
        printer = TicketPrinter(fake.url, timeout=0.5)
        with pytest.raises(PrintError) as caught:
            printer.print_ticket(ticket("en"))
    assert caught.value.reason == "timeout"


def test_dummy_printer_keeps_the_bytes():
    printer = TicketPrinter("dummy://")
    printer.print_ticket(ticket("en"))
    printer.print_ticket(ticket("ru", number="B007"))
    decoded = decode(printer.output)
    assert decoded.errors == [] and decoded.unfinished is None
    assert [job.line("A012" if i == 0 else "B007").width for i, job in enumerate(decoded.jobs)] == [
        6,
        6,
    ]
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
    assert job.line("Ünvan qeydiyyatı") and len(job.images) == 6


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
    with FakeNetworkPrinter() as fake:
        printer = TicketPrinter(fake.url)
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
        jobs = fake.wait_for_jobs(6)
    assert errors == [] and fake.errors == [] and fake.unfinished == []
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


def test_ticket_fields_are_checked():
    with pytest.raises(ValueError, match="timezone-aware"):
        ticket(issued_at=datetime(2026, 3, 12, 10, 42))
    with pytest.raises(ValueError, match="timezone"):
        ticket(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="58 or 80"):
        ticket(paper_mm=76)
    assert ticket(language="de").lang == "en"


def test_waits_as_printed():
    assert format_wait(30, "en") == "under a minute"
    assert format_wait(780, "az") == "~13 dəq"
    assert format_wait(3900, "ru") == "~1 ч 05 мин"


def test_image_raster_round_trip():
    # Rows of bytes, most significant bit first, 1 = black (GS v 0).
    image = RasterImage(16, 1, bytes([0x80, 0x01]))
    assert image.black(0, 0) and image.black(15, 0) and not image.black(1, 0)
    assert image.black_dots == 2


def test_try_a_printer_from_the_command_line(capsys):
    from hardware.printer import main

    with FakeNetworkPrinter() as fake:
        assert main([fake.url, "--sample", "az", "--paper", "58"]) == 0
        [job] = fake.wait_for_jobs(1)
    out = capsys.readouterr().out
    assert "printed a sample ticket (az, 58 mm)" in out
    assert '"paper": "ok"' in out and '"ok": true' in out
    assert job.line("Yeni pensiya") and job.line("-" * 32)

    assert main(["tcp://10.0.0.9:http"]) == 2
    assert "Accepted forms" in capsys.readouterr().err
    with FakeNetworkPrinter(paper_out=True) as fake:
        assert main([fake.url, "--sample", "en"]) == 1
    assert "not printed: paper_out" in capsys.readouterr().err


def test_a_long_center_name_is_tall_but_not_wide():
    with FakeNetworkPrinter() as fake:
        _, job = print_one(fake, ticket("en", paper_mm=58))
    name = job.line("DOST center No. 3")  # 17 characters: 34 columns at double width
    assert (name.width, name.height, name.bold) == (1, 2, True)
