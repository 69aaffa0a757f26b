"""Tickets to print and ways to print them, for the printer tests (tests/test_printer.py,
tests/test_ticket_print.py): a ticket in az, ru or en, printed on a loopback printer."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from escpos.image import EscposImage

from hardware.escpos_render import number_image
from hardware.loopback_printer import Job, LoopbackPrinter, LoopbackSerialPrinter, RasterImage
from hardware.printer import TicketPrinter
from hardware.ticket import TicketPrint

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


def number_picture(job: Job, number: str) -> RasterImage | None:
    """The picture in ``job`` that is ``number`` as the ticket's number: exactly the dots the
    renderer draws for it (the number is always a picture, hardware/escpos_render.py)."""
    for image in job.images:
        if image.data == EscposImage(number_image(number, image.width)).to_raster_format():
            return image
    return None


def shows_number(job: Job, number: str) -> bool:
    """Whether ``job`` prints ``number`` as the ticket's number."""
    return number_picture(job, number) is not None


def print_one(
    loopback: LoopbackPrinter | LoopbackSerialPrinter,
    ticket_: TicketPrint,
    url: str | None = None,
    **options,
) -> tuple[TicketPrinter, Job]:
    """Print ``ticket_`` on ``loopback`` (or at ``url``); the printer and the ticket as printed."""
    printer = TicketPrinter(url or loopback.url, **options)
    printer.print_ticket(ticket_)
    [job] = loopback.wait_for_jobs(1)
    assert loopback.errors == []
    return printer, job


def print_torn_off(loopback: LoopbackPrinter, ticket_: TicketPrint, url: str) -> Job:
    """A printer without a cutter: the ticket is fed out to be torn off (no GS V)."""
    TicketPrinter(url).print_ticket(ticket_)
    deadline = time.monotonic() + 5
    while not loopback.unfinished and time.monotonic() < deadline:
        time.sleep(0.01)
    assert loopback.jobs == [] and loopback.errors == []
    [job] = loopback.unfinished
    return job
