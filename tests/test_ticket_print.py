"""The ticket on paper (hardware/ticket.py, hardware/escpos_render.py), in az, ru and en,
on 58 and 80 mm paper and several printer profiles, as the loopback printer decodes it:
text in a code page where one holds it, a picture where none does, the QR code native or
drawn."""

from __future__ import annotations

from datetime import datetime

import pytest
import qrcode
from escpos.image import EscposImage

from hardware.escpos_render import PAPER_DOTS, find_font, text_image
from hardware.loopback_printer import LoopbackPrinter
from hardware.ticket import format_wait

from .printer_helpers import PHONE_URL, POS5890_CODE_PAGES, print_one, print_torn_off, ticket


def expected_raster(text: str, width: int, scale: int = 1, bold: bool = False) -> bytes:
    """The dots python-escpos sends for ``text`` drawn as the renderer draws it."""
    return EscposImage(text_image(text, width, 24 * scale, bold=bold)).to_raster_format()


def qr_modules(data: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


def test_english_ticket_is_text_with_a_native_qr_code():
    with LoopbackPrinter() as loopback:
        _, job = print_one(loopback, ticket("en"))
    assert job.cut == "partial"
    assert job.images == []
    assert [qr.payload for qr in job.qr_codes] == [PHONE_URL]
    assert job.qr_codes[0].error_correction == "M"
    center = job.line("DOST center No. 3")
    assert (center.width, center.height, center.bold) == (2, 2, True)
    number = job.line("A012")
    assert (number.width, number.height, number.bold) == (6, 6, True)
    assert job.line("New pension").bold
    for text in ("Your number", "12 Mar 2026, 10:42", "Your place in line: 4"):
        job.line(text)
    job.line("Estimated wait: ~13 minutes")
    assert "Scan the QR code to follow your turn on your" in job.text
    assert "Your number will be called on the screens in the" in job.text
    # Order: name, number, service, time, position, wait, QR, help.
    order = [job.text.index(part) for part in ("DOST", "A012", "New pension", "10:42", "~13")]
    assert order == sorted(order)
    assert job.kinds().index("qr") > job.kinds().index("text")
    assert all(line.align == "center" for line in job.lines)


def test_russian_ticket_is_text_in_a_cyrillic_code_page():
    with LoopbackPrinter() as loopback:
        _, job = print_one(loopback, ticket("ru"))
    assert job.images == []
    for text in (
        "Центр DOST №3",
        "Ваш номер",
        "Новая пенсия",
        "Ваше место в очереди: 4",
        "12 мар. 2026 г., 10:42",
        "Примерное ожидание: ~13 минут",
    ):
        line = job.line(text)
        assert line.code_pages == ("cp866",), text
    assert "Ваш номер вызовут на экранах в зале." in job.text
    assert [qr.payload for qr in job.qr_codes] == [PHONE_URL]


def test_azerbaijani_lines_with_schwa_are_printed_as_images():
    with LoopbackPrinter() as loopback:
        _, job = print_one(loopback, ticket("az"))
    # No code page holds ə: those paragraphs are pictures; the rest is text.
    assert job.kinds() == [
        "image",  # DOST mərkəzi №3
        "text",  # rule
        "image",  # Sizin nömrəniz
        "text",  # A012
        "text",  # Ünvan qeydiyyatı
        "text",  # date and time
        "image",  # Növbədə yeriniz: 4
        "image",  # Təxmini gözləmə: ~13 dəqiqə
        "text",  # rule
        "qr",
        "image",  # scan the QR code
        "image",  # help line
    ]
    assert "ə" not in job.text and "?" not in job.text
    service = job.line("Ünvan qeydiyyatı")
    assert service.bold and service.code_pages in (("cp857",), ("cp1254",))
    job.line("12 mar 2026 10:42")
    assert (job.line("A012").width, job.line("A012").height) == (6, 6)
    images = job.images
    assert all(image.width == PAPER_DOTS[80] for image in images)
    assert images[0].data == expected_raster("DOST mərkəzi №3", 576, scale=2, bold=True)
    assert images[1].data == expected_raster("Sizin nömrəniz", 576)
    assert images[2].data == expected_raster("Növbədə yeriniz: 4", 576)
    assert images[3].data == expected_raster("Təxmini gözləmə: ~13 dəqiqə", 576)
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
    with LoopbackPrinter() as loopback:
        _, job = print_one(loopback, ticket("ru"), url=loopback.url + "?profile=T-1")
    assert not any("\u0400" <= char <= "\u04ff" for char in job.text)
    assert job.line("A012").width == 6
    assert [qr.payload for qr in job.qr_codes] == [PHONE_URL]
    # name, "your number", service, date (12 мар. 2026 г.), position, wait, scan, help
    assert len(job.images) == 8
    assert job.images[2].data == expected_raster("Новая пенсия", 504, bold=True)
    assert job.images[3].data == expected_raster("12 мар. 2026 г., 10:42", 504)


def test_qr_code_is_an_image_when_the_profile_has_no_native_qr():
    with LoopbackPrinter(code_pages=POS5890_CODE_PAGES) as loopback:
        job = print_torn_off(
            loopback, ticket("en", paper_mm=58), loopback.url + "?profile=POS-5890"
        )
    assert job.qr_codes == []
    [qr_image] = job.images
    assert qr_image.width == PAPER_DOTS[58]
    assert qr_image.qr_matrix() == qr_modules(PHONE_URL)
    left, _, right, _ = qr_image.bbox()
    assert abs(left - (qr_image.width - 1 - right)) <= 1  # centered
    job.line("New pension")


def test_russian_on_a_printer_with_other_code_page_numbers():
    with LoopbackPrinter(code_pages=POS5890_CODE_PAGES) as loopback:
        job = print_torn_off(
            loopback, ticket("ru", paper_mm=58), loopback.url + "?profile=POS-5890"
        )
    assert job.line("Новая пенсия").code_pages == ("cp866",)


def test_58_and_80_mm_layouts():
    long_service = "Replacement of a lost identity card for citizens"
    jobs = {}
    for paper in (80, 58):
        with LoopbackPrinter() as loopback:
            _, jobs[paper] = print_one(
                loopback, ticket("en", paper_mm=paper, service_name=long_service)
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
        with LoopbackPrinter() as loopback:
            _, az[paper] = print_one(loopback, ticket("az"), url=f"{loopback.url}?paper={paper}")
    assert {image.width for image in az[80].images} == {576}
    assert {image.width for image in az[58].images} == {384}
    # The address's paper= wins over the ticket's paper_mm.
    assert az[58].line("-" * 32)


def test_profile_width_narrower_than_the_paper():
    with LoopbackPrinter() as loopback:  # TM-T88V prints 512 dots (42 columns) on 80 mm paper
        _, job = print_one(loopback, ticket("az"), url=loopback.url + "?profile=TM-T88V")
    assert job.line("-" * 42)
    assert {image.width for image in job.images} == {512}


def test_a_long_center_name_is_tall_but_not_wide():
    with LoopbackPrinter() as loopback:
        _, job = print_one(loopback, ticket("en", paper_mm=58))
    name = job.line("DOST center No. 3")  # 17 characters: 34 columns at double width
    assert (name.width, name.height, name.bold) == (1, 2, True)


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
    assert format_wait(780, "az") == "~13 dəqiqə"
    assert format_wait(60, "ru") == "~1 минута"
    assert format_wait(1320, "ru") == "~22 минуты"
    assert format_wait(780, "en") == "~13 minutes"
    assert format_wait(3900, "ru") == "~1 ч 05 мин"
