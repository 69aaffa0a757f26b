"""The ticket on paper (hardware/ticket.py, hardware/escpos_render.py), in az, ru and en,
on 58 and 80 mm paper and several printer profiles, as the loopback printer decodes it:
text in a code page where one holds it, a picture where none does, the number always a
picture and the heaviest thing on the ticket, pictures with clean edges, the QR code native
or drawn."""

from __future__ import annotations

import statistics
from datetime import datetime

import pytest
import qrcode
from escpos.image import EscposImage
from PIL import Image, ImageDraw, ImageFont

from hardware.escpos_render import PAPER_DOTS, find_font, text_image
from hardware.loopback_printer import LoopbackPrinter, RasterImage
from hardware.ticket import format_wait

from .printer_helpers import (
    PHONE_URL,
    POS5890_CODE_PAGES,
    number_picture,
    print_one,
    print_torn_off,
    shows_number,
    ticket,
)

# A service name that wraps to several lines, in each language.
LONG_SERVICE = {
    "az": "Şəxsiyyət vəsiqəsinin itirilməsi ilə əlaqədar yenisinin verilməsi və ünvan "
    "qeydiyyatının dəyişdirilməsi üzrə müraciətlərin qəbulu",
    "ru": "Выдача нового удостоверения личности взамен утерянного и изменение регистрации "
    "по месту жительства",
    "en": "Replacement of a lost identity card and change of the registered address for "
    "citizens and residents",
}
# A printer's font A is 12 x 24 dots; its strokes are at most 3 dots wide even emphasized,
# times the GS ! width magnification.
FONT_A_MAX_STROKE = 3


def expected_raster(text: str, width: int, scale: int = 1, bold: bool = False) -> bytes:
    """The dots python-escpos sends for ``text`` drawn as the renderer draws it."""
    return EscposImage(text_image(text, width, 24 * scale, bold=bold)).to_raster_format()


def qr_modules(data: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


def dots(image: RasterImage) -> list[list[bool]]:
    """The picture's dots, row by row, True where black."""
    return [[image.black(x, y) for x in range(image.width)] for y in range(image.height)]


def stroke_width(image: RasterImage) -> float:
    """How thick the strokes of a picture of text are: the median length of its runs of
    black dots, across and down (a stem's runs across are its width, a bar's runs down)."""
    rows = dots(image)
    runs = []
    for line in [*rows, *zip(*rows, strict=True)]:
        run = 0
        for black in (*line, False):
            if black:
                run += 1
            elif run:
                runs.append(run)
                run = 0
    return statistics.median(runs)


def tallest_stroke(image: RasterImage) -> int:
    """The longest run of black dots down: the height of the picture's tallest stem."""
    longest = 0
    for column in zip(*dots(image), strict=True):
        run = 0
        for black in column:
            run = run + 1 if black else 0
            longest = max(longest, run)
    return longest


def stray_dots(image: RasterImage) -> int:
    """Black dots with no black neighbour across or down: specks, as dithering leaves."""
    rows = dots(image)
    width, height = image.width, image.height

    def black(x: int, y: int) -> bool:
        return 0 <= x < width and 0 <= y < height and rows[y][x]

    return sum(
        1
        for y in range(height)
        for x in range(width)
        if rows[y][x]
        and not (black(x - 1, y) or black(x + 1, y) or black(x, y - 1) or black(x, y + 1))
    )


def ragged_edge_share(image: RasterImage) -> float:
    """The share of a picture's edge dots that stick out or dent in by a single dot (both
    neighbours across, or both down, are the other colour): dithering leaves many along
    every edge; a clean cut at a threshold only a few, at the tips of curves."""
    rows = dots(image)
    width, height = image.width, image.height

    def black(x: int, y: int) -> bool:
        return 0 <= x < width and 0 <= y < height and rows[y][x]

    edge = notches = 0
    for y in range(height):
        for x in range(width):
            dot = rows[y][x]
            left, right, up, down = (
                black(x - 1, y),
                black(x + 1, y),
                black(x, y - 1),
                black(x, y + 1),
            )
            if dot and not (left and right and up and down):
                edge += 1
            if (left != dot and right != dot) or (up != dot and down != dot):
                notches += 1
    return notches / max(edge, 1)


def test_english_ticket_is_text_with_a_native_qr_code():
    with LoopbackPrinter() as loopback:
        _, job = print_one(loopback, ticket("en"))
    assert job.cut == "partial"
    assert len(job.images) == 1 and shows_number(job, "A012")  # the number is a picture
    assert [qr.payload for qr in job.qr_codes] == [PHONE_URL]
    assert job.qr_codes[0].error_correction == "M"
    center = job.line("DOST center No. 3")
    assert (center.width, center.height, center.bold) == (2, 2, True)
    assert job.line("New pension").bold
    for text in ("Your number", "12 Mar 2026, 10:42", "Your place in line: 4"):
        job.line(text)
    job.line("Estimated wait: ~13 minutes")
    assert "Scan the QR code to follow your turn on your" in job.text
    assert "Your number will be called on the screens in the" in job.text
    # Order: name, "your number", the number, service, time, position, wait, QR, help.
    transcript = job.transcript()
    parts = ("DOST", "Your number", "[picture", "New pension", "10:42", "~13", "[QR code")
    order = [transcript.index(part) for part in parts]
    assert order == sorted(order)
    assert job.kinds().index("qr") > job.kinds().index("text")
    assert all(line.align == "center" for line in job.lines)


def test_russian_ticket_is_text_in_a_cyrillic_code_page():
    with LoopbackPrinter() as loopback:
        _, job = print_one(loopback, ticket("ru"))
    assert len(job.images) == 1 and shows_number(job, "A012")
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
        "image",  # A012
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
    images = job.images
    assert all(image.width == PAPER_DOTS[80] for image in images)
    assert images[0].data == expected_raster("DOST mərkəzi №3", 576, scale=2, bold=True)
    assert images[1].data == expected_raster("Sizin nömrəniz", 576)
    assert shows_number(job, "A012") and images[2].height > images[0].height
    assert images[3].data == expected_raster("Növbədə yeriniz: 4", 576)
    assert images[4].data == expected_raster("Təxmini gözləmə: ~13 dəqiqə", 576)
    assert images[0].height > images[1].height  # the center's name is drawn larger
    assert [qr.payload for qr in job.qr_codes] == [PHONE_URL]


def test_the_font_for_image_text_covers_azerbaijani_and_cyrillic():
    font = ImageFont.truetype(find_font(), 24)
    notdef = font.getmask("\uffff").getbbox()
    for char in "əğıöşüçƏĞİÖŞÜÇжЯ№":
        assert font.getmask(char).getbbox() != notdef, char


def test_without_a_cyrillic_code_page_russian_is_printed_as_images():
    # The T-1's code pages are all Latin (CP437, CP850, CP858, ...).
    with LoopbackPrinter() as loopback:
        _, job = print_one(loopback, ticket("ru"), url=loopback.url + "?profile=T-1")
    assert not any("\u0400" <= char <= "\u04ff" for char in job.text)
    assert shows_number(job, "A012")
    assert [qr.payload for qr in job.qr_codes] == [PHONE_URL]
    # name, "your number", the number, service, date (12 мар. 2026 г.), position, wait,
    # scan, help
    assert len(job.images) == 9
    assert job.images[3].data == expected_raster("Новая пенсия", 504, bold=True)
    assert job.images[4].data == expected_raster("12 мар. 2026 г., 10:42", 504)


def test_qr_code_is_an_image_when_the_profile_has_no_native_qr():
    with LoopbackPrinter(code_pages=POS5890_CODE_PAGES) as loopback:
        job = print_torn_off(
            loopback, ticket("en", paper_mm=58), loopback.url + "?profile=POS-5890"
        )
    assert job.qr_codes == []
    number_image, qr_image = job.images
    assert shows_number(job, "A012") and number_image.width == PAPER_DOTS[58]
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
    assert shows_number(wide, "A012") and shows_number(narrow, "A012")
    assert wide.images[0].height > narrow.images[0].height  # the number as large as fits
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


@pytest.mark.parametrize("paper", [80, 58])
@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_the_number_is_the_heaviest_thing_on_the_ticket(lang, paper):
    with LoopbackPrinter() as loopback:
        _, job = print_one(loopback, ticket(lang, paper_mm=paper, service_name=LONG_SERVICE[lang]))
    number = number_picture(job, "A012")
    assert number is not None, job.transcript()
    stroke, tallest = stroke_width(number), tallest_stroke(number)
    # Wider and taller strokes than any other picture (the center's bold name included)
    # and than anything the printer prints in its own font.
    others = [image for image in job.images if image is not number]
    assert lang != "az" or len(others) >= 5  # Azerbaijani with ə: most lines are pictures
    for image in others:
        assert stroke >= 2 * stroke_width(image), (stroke, stroke_width(image))
        assert tallest >= 2 * tallest_stroke(image), (tallest, tallest_stroke(image))
    for line in job.lines:
        assert stroke >= 2 * FONT_A_MAX_STROKE * line.width, (line.text, line.width)
        assert tallest > 24 * line.height, line.text
    # As large as the paper allows: most of its width, and 10 mm (80 dots) tall or more
    # on 80 mm paper.
    left, top, right, bottom = number.bbox()
    assert right - left + 1 > 0.6 * number.width
    assert bottom - top + 1 > (80 if paper == 80 else 60)


@pytest.mark.parametrize("paper", [80, 58])
def test_pictures_have_clean_edges(paper):
    with LoopbackPrinter() as loopback:
        _, job = print_one(loopback, ticket("az", paper_mm=paper, service_name=LONG_SERVICE["az"]))
    header, number = job.images[0], number_picture(job, "A012")
    assert number is not None
    assert all(stray_dots(image) == 0 for image in job.images)  # every line drawn
    assert ragged_edge_share(header) < 0.02 and ragged_edge_share(number) < 0.02
    # The measures see dithering: the header's grey drawing, dithered as python-escpos
    # dithers a grey picture, has stray dots and several times the ragged edge.
    grey = Image.new("L", (header.width, header.height), 255)
    font = ImageFont.truetype(find_font(bold=True), 48)
    ImageDraw.Draw(grey).text((8, 4), "DOST mərkəzi №3", font=font, fill=0)
    dithered = RasterImage(grey.width, grey.height, EscposImage(grey).to_raster_format())
    assert stray_dots(dithered) > 0 and ragged_edge_share(dithered) > 0.06
