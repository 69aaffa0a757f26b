"""ESC/POS bytes for a ticket, built with python-escpos.

:class:`TicketRenderer` draws the blocks of :func:`hardware.ticket.layout` on python-escpos's
``Dummy`` printer, set up with the printer's profile (from python-escpos's printer database)
and the paper width, and returns the bytes to send.

Text: each paragraph is printed as text in one code page that the profile supports and that
holds every character of it (e.g. CP866 or CP1251 for Russian, CP857 or CP1254 for
Azerbaijani without ``ə``). When no supported code page holds it all (Azerbaijani ``ə`` is in
none of them), the paragraph is drawn with a TrueType font (DejaVu Sans from Debian's
``fonts-dejavu-core``, or ``NOVBE_TICKET_FONT``) and printed as a raster image (``GS v 0``).

The ticket number is always a picture, drawn in the bold font as large as the paper allows,
so it is the heaviest thing on the ticket and looks the same on every printer (a printer's
own font magnified six times is a blocky, thinner thing). Only a printer that cannot print
raster images (impact printers) gets it as text at its largest bold size.

Pictures are drawn at the printer's resolution (one pixel a dot) and cut to black and white
at a fixed threshold, not dithered: dithering scatters loose dots along every edge.

QR code: the printer's own ``GS ( k`` command where the profile lists ``qrCode``; otherwise an
image made with the ``qrcode`` package.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import subprocess
import textwrap

import qrcode
from escpos.capabilities import CAPABILITIES, Profile, get_profile_class
from escpos.constants import QR_ECLEVEL_M
from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageFont

from .ticket import Block, Number, Qr, Rule, Text, TicketPrint, layout

# Printable width in dots (203 dpi printers: 72 mm of 80 mm paper, 48 mm of 58 mm paper).
PAPER_DOTS = {80: 576, 58: 384}
CHAR_WIDTH_DOTS = 12  # font A is 12 x 24 dots
TEXT_PX = 24  # height of a font A line, used for text drawn as an image
NUMBER_MAX_SCALE = {80: 6, 58: 4}  # GS ! magnification of a number printed as text
# The number's type size in pixels, as a share of the printable width (172 px on 80 mm
# paper: digits about 16 mm tall); smaller where a long number would not fit.
NUMBER_SIZE_OF_WIDTH = 0.3
NUMBER_MARGIN_DOTS = 16  # left and right of the number, and above and below its ink
INK_THRESHOLD = 128  # grey levels below this print black
QR_MODULE_DOTS = {80: 6, 58: 5}

# Tried first, in this order; then the profile's other code pages by table number.
PREFERRED_CODE_PAGES = (
    "CP437",
    "CP866",
    "CP1251",
    "CP857",
    "CP1254",
    "CP858",
    "CP850",
    "CP1252",
    "CP852",
    "CP1250",
)

FONT_ENV = "NOVBE_TICKET_FONT"
FONT_BOLD_ENV = "NOVBE_TICKET_FONT_BOLD"
# (regular, bold) fonts with Azerbaijani (ə) and Cyrillic letters, where distributions put them.
FONT_CANDIDATES = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),  # Debian
    ("/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),  # Fedora
    ("/usr/share/fonts/dejavu/DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),  # Arch
    ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/freefont/FreeSans.ttf", "FreeSansBold.ttf"),
)


class UnknownProfileError(ValueError):
    """The printer profile is not in python-escpos's printer database."""


class FontNotFoundError(RuntimeError):
    """No TrueType font with Azerbaijani and Cyrillic letters was found for image text."""


def profile_names() -> list[str]:
    """The printer profiles python-escpos knows (``default``, ``TM-T88V``, ``POS-5890``, ...)."""
    return sorted(CAPABILITIES["profiles"])


def make_profile(name: str | None, paper_mm: int) -> Profile:
    """A python-escpos profile for printer ``name`` whose media width is the paper's.

    The profile data is copied, so python-escpos's shared profile classes are left alone.
    """
    name = name or "default"
    if name not in CAPABILITIES["profiles"]:
        raise UnknownProfileError(f"unknown printer profile {name!r}")
    base = get_profile_class(name)
    data = copy.deepcopy(base.profile_data)
    width = data.setdefault("media", {}).setdefault("width", {})
    dots = PAPER_DOTS[paper_mm]
    if isinstance(width.get("pixels"), int) and width["pixels"] > 0:
        dots = min(dots, width["pixels"])
    width["pixels"] = dots
    cls = type(
        f"Novbe{base.__name__}",
        (Profile,),
        {"profile_data": data, "columns": None, "__init__": lambda self: None},
    )
    return cls()


@functools.lru_cache(maxsize=4)
def find_font(bold: bool = False) -> str:
    """Path of a TrueType font with ``ə`` and Cyrillic (``NOVBE_TICKET_FONT[_BOLD]`` first)."""
    env = os.environ.get(FONT_BOLD_ENV if bold else FONT_ENV) or os.environ.get(FONT_ENV)
    if env:
        if not os.path.isfile(env):
            raise FontNotFoundError(f"{FONT_ENV}={env!r}: no such file")
        return env
    for regular, bold_name in FONT_CANDIDATES:
        if os.path.isfile(regular):
            bold_path = os.path.join(os.path.dirname(regular), bold_name)
            return bold_path if bold and os.path.isfile(bold_path) else regular
    found = _fontconfig_font()
    if found:
        return found
    raise FontNotFoundError(
        "no TrueType font with Azerbaijani and Cyrillic letters was found for the ticket; "
        "install Debian's fonts-dejavu-core (apt-get install fonts-dejavu-core) "
        f"or set {FONT_ENV} to a .ttf file"
    )


def _fontconfig_font() -> str | None:
    """A sans font that fontconfig says covers U+0259 (ə) and U+044F (я), if fc-list exists."""
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return None
    try:
        out = subprocess.run(
            [fc_list, ":charset=259 44f", "file", "style"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = []
    for line in out.splitlines():
        path, _, style = line.partition(":")
        if path.endswith((".ttf", ".otf")) and "Italic" not in style and "Oblique" not in style:
            files.append(path)
    files.sort(key=lambda p: ("Sans" not in p, "Mono" in p, "Bold" in p, p))
    return files[0] if files else None


def wrap_pixels(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap of ``text`` to ``width`` pixels (breaking words that alone are wider)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        while font.getlength(word) > width and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and font.getlength(word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current or not lines:
        lines.append(current)
    return lines


def black_and_white(image: Image.Image) -> Image.Image:
    """A grey picture cut to black and white at :data:`INK_THRESHOLD` (mode ``1``), not
    dithered: python-escpos would dither a grey one, leaving stray dots along the edges."""
    return image.point(lambda v: 0 if v < INK_THRESHOLD else 255, mode="1")


def text_image(text: str, width: int, size_px: int, bold: bool = False) -> Image.Image:
    """``text`` drawn centered, wrapped to ``width`` dots, black on white (mode ``1``)."""
    font = ImageFont.truetype(find_font(bold), size_px)
    lines = wrap_pixels(text, font, width - 8)
    ascent, descent = font.getmetrics()
    line_height = ascent + descent + max(2, size_px // 8)
    image = Image.new("L", (width, line_height * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        x = (width - font.getlength(line)) / 2
        draw.text((x, i * line_height), line, font=font, fill=0)
    return black_and_white(image)


def number_size(text: str, width: int) -> int:
    """The bold font's size in pixels for the ticket number ``text`` on ``width`` dots."""
    size = int(width * NUMBER_SIZE_OF_WIDTH)
    room = width - 2 * NUMBER_MARGIN_DOTS
    font = ImageFont.truetype(find_font(bold=True), size)
    length = font.getlength(text)
    if length > room:
        size = int(size * room / length)
    return max(size, TEXT_PX)


def number_image(text: str, width: int) -> Image.Image:
    """The ticket number in the bold font, centered on ``width`` dots, as tall as fits
    (:func:`number_size`), cut to its ink plus a margin above and below (mode ``1``)."""
    font = ImageFont.truetype(find_font(bold=True), number_size(text, width))
    left, top, right, bottom = font.getbbox(text)
    margin = NUMBER_MARGIN_DOTS
    image = Image.new("L", (width, bottom - top + 2 * margin), 255)
    x = (width - (right - left)) / 2 - left
    ImageDraw.Draw(image).text((x, margin - top), text, font=font, fill=0)
    return black_and_white(image)


def qr_image(data: str, module_dots: int, width: int) -> Image.Image:
    """A QR code of ``data`` (error correction M), centered on a ``width``-dot wide image."""
    border = 2
    code = qrcode.QRCode(
        version=None,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=1,
        border=border,
    )
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()  # includes the border
    modules = len(matrix)
    module_dots = max(1, min(module_dots, width // modules))
    side = modules * module_dots
    image = Image.new("L", (width, side), 255)
    left = (width - side) // 2
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                x0 = left + x * module_dots
                y0 = y * module_dots
                draw.rectangle((x0, y0, x0 + module_dots - 1, y0 + module_dots - 1), fill=0)
    return image


class TicketRenderer:
    """Turns a :class:`~hardware.ticket.TicketPrint` into ESC/POS bytes for one printer."""

    def __init__(self, profile: str | None = None, paper_mm: int = 80) -> None:
        if paper_mm not in PAPER_DOTS:
            raise ValueError(f"paper must be 58 or 80 mm, not {paper_mm!r}")
        self.profile_name = profile or "default"
        self.paper_mm = paper_mm
        self.profile = make_profile(self.profile_name, paper_mm)
        self.dots = int(self.profile.profile_data["media"]["width"]["pixels"])
        self.columns = self.dots // CHAR_WIDTH_DOTS
        self.native_qr = bool(self.profile.supports("qrCode"))
        self.raster = bool(self.profile.supports("bitImageRaster"))
        self._code_pages = self._usable_code_pages()

    def _usable_code_pages(self) -> list[tuple[str, str]]:
        """(escpos name, Python codec) of the profile's code pages, most preferred first."""
        encodings = CAPABILITIES["encodings"]
        slots = self.profile.get_code_pages()  # name -> table number
        usable = {
            name: encodings[name]["python_encode"]
            for name in slots
            if "python_encode" in encodings.get(name, {})
        }
        ordered = [name for name in PREFERRED_CODE_PAGES if name in usable]
        ordered += sorted(
            (name for name in usable if name not in ordered), key=lambda n: int(slots[n])
        )
        return [(name, usable[name]) for name in ordered]

    def code_page_for(self, text: str, current: str | None = None) -> str | None:
        """A usable code page that holds every character of ``text``, or None.

        ``current`` (the code page selected last) is kept when it holds the text, which saves
        a code page switch for plain ASCII lines.
        """
        pages = self._code_pages
        if current is not None:
            pages = sorted(pages, key=lambda page: page[0] != current)
        for name, codec in pages:
            try:
                encoded = text.encode(codec)
            except UnicodeEncodeError:
                continue
            if all(b >= 0x20 for b in encoded):
                return name
        return None

    def render(self, ticket: TicketPrint) -> bytes:
        printer = Dummy(profile=self.profile)
        printer.hw("INIT")
        printer.set(align="center")
        for block in layout(ticket):
            self._block(printer, block)
        self._cut(printer)
        return printer.output

    # Blocks

    def _block(self, p: Dummy, block: Block) -> None:
        if isinstance(block, Text):
            self._paragraph(p, block.text, block.scale, block.bold)
        elif isinstance(block, Number):
            self._number(p, block.text)
        elif isinstance(block, Rule):
            self._paragraph(p, "-" * self.columns, 1, bold=False)
        elif isinstance(block, Qr):
            self._qr(p, block.data)
        else:  # pragma: no cover - layout() makes only the blocks above
            raise TypeError(f"unknown ticket block {block!r}")

    def _paragraph(self, p: Dummy, text: str, scale: int, bold: bool) -> None:
        text = " ".join(text.split())
        code_page = self.code_page_for(text, current=p.magic.encoding)
        if code_page is None:
            image = text_image(text, self.dots, TEXT_PX * scale, bold=bold)
            p.image(image, impl="bitImageRaster")
            return
        wide = scale
        if scale > 1 and len(text) > self.columns // scale:
            wide = 1  # tall but not wide, rather than a word or two a line
        p.set(custom_size=True, width=wide, height=scale, bold=bold)
        p.magic.force_encoding(code_page)
        width = max(1, self.columns // wide)
        for line in textwrap.wrap(text, width=width, break_long_words=True) or [""]:
            p.text(line + "\n")

    def _number(self, p: Dummy, text: str) -> None:
        if self.raster:
            p.image(number_image(text, self.dots), impl="bitImageRaster")
            return
        scale = max(1, min(NUMBER_MAX_SCALE[self.paper_mm], self.columns // len(text)))
        self._paragraph(p, text, scale, bold=True)

    def _qr(self, p: Dummy, data: str) -> None:
        module = QR_MODULE_DOTS[self.paper_mm]
        if self.native_qr:
            p.set(align="center")
            p.qr(data, native=True, size=module, ec=QR_ECLEVEL_M)
            p.text("\n")
        else:
            p.image(qr_image(data, module, self.dots), impl="bitImageRaster")

    def _cut(self, p: Dummy) -> None:
        p.set(custom_size=True, width=1, height=1, bold=False)
        if self.profile.supports("paperPartCut") or self.profile.supports("paperFullCut"):
            p.cut(mode="PART")
        else:  # a tear-off printer: feed the ticket past the tear bar
            p.print_and_feed(6)
