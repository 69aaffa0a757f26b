"""What came out of a loopback printer: the jobs (tickets) it printed, and their parts.

A :class:`Job` is what was printed between a reset or the previous cut and a cut: text
lines (with their size, weight, alignment and the code pages their bytes were read in),
raster images (the dots as sent) and QR codes (the payload the printer was told to draw).
Tests read tickets through these: ``job.line("A012").width``, ``job.qr_codes``,
``image.qr_matrix()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TextLine:
    text: str
    width: int = 1  # character magnification (GS ! / ESC !)
    height: int = 1
    bold: bool = False
    align: str = "left"
    code_pages: tuple[str, ...] = ()  # tables used for the line's non-ASCII bytes


@dataclass
class RasterImage:
    """A ``GS v 0`` image: ``width`` x ``height`` dots, rows of ``width // 8`` bytes, 1 = black."""

    width: int
    height: int
    data: bytes = field(repr=False)

    def black(self, x: int, y: int) -> bool:
        byte = self.data[y * (self.width // 8) + x // 8]
        return bool(byte & (0x80 >> (x % 8)))

    @property
    def black_dots(self) -> int:
        return sum(bin(b).count("1") for b in self.data)

    def bbox(self) -> tuple[int, int, int, int] | None:
        """(left, top, right, bottom) of the black dots, inclusive; None if blank."""
        rows = [y for y in range(self.height) if any(self._row(y))]
        if not rows:
            return None
        cols = [x for x in range(self.width) if any(self.black(x, y) for y in rows)]
        return cols[0], rows[0], cols[-1], rows[-1]

    def _row(self, y: int) -> bytes:
        stride = self.width // 8
        return self.data[y * stride : (y + 1) * stride]

    def qr_matrix(self) -> list[list[bool]]:
        """Sample the image as a QR code: the module size from the top-left finder pattern
        (7 modules wide), then the colour at the centre of every module."""
        box = self.bbox()
        assert box, "blank image"
        left, top, right, bottom = box
        run = 0
        while left + run <= right and self.black(left + run, top):
            run += 1
        module = run // 7
        assert module > 0 and run % 7 == 0, f"no QR finder pattern (run of {run} dots)"
        size = (right - left + 1) // module
        return [
            [
                self.black(left + x * module + module // 2, top + y * module + module // 2)
                for x in range(size)
            ]
            for y in range(size)
        ]

    def to_pil(self):  # for looking at a ticket while debugging
        from PIL import Image

        return Image.frombytes("1", (self.width, self.height), self.data).point(lambda v: 255 - v)


@dataclass
class QrCode:
    payload: str
    module_size: int | None = None
    error_correction: str | None = None
    model: int | None = None


@dataclass
class Job:
    """One ticket: what was printed between a reset or the previous cut and a cut."""

    items: list[TextLine | RasterImage | QrCode] = field(default_factory=list)
    cut: str | None = None  # "full" or "partial"; None: the connection ended before a cut

    @property
    def lines(self) -> list[TextLine]:
        return [item for item in self.items if isinstance(item, TextLine)]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def images(self) -> list[RasterImage]:
        return [item for item in self.items if isinstance(item, RasterImage)]

    @property
    def qr_codes(self) -> list[QrCode]:
        return [item for item in self.items if isinstance(item, QrCode)]

    def transcript(self) -> str:
        """The ticket as text, in print order: its text lines, ``[picture W x H dots]`` for a
        raster image (text drawn as a picture, the ticket number) and ``[QR code: payload]``."""
        parts = []
        for item in self.items:
            if isinstance(item, TextLine):
                parts.append(item.text)
            elif isinstance(item, RasterImage):
                parts.append(f"[picture {item.width} x {item.height} dots]")
            else:
                parts.append(f"[QR code: {item.payload}]")
        return "\n".join(parts)

    def line(self, text: str) -> TextLine:
        """The printed line equal to ``text`` (AssertionError listing the lines if none)."""
        for line in self.lines:
            if line.text == text:
                return line
        raise AssertionError(f"no line {text!r} in {[line.text for line in self.lines]}")

    def kinds(self) -> list[str]:
        """The job's items as "text", "image", "qr", in order (blank lines left out)."""
        names = {TextLine: "text", RasterImage: "image", QrCode: "qr"}
        return [
            names[type(item)]
            for item in self.items
            if not (isinstance(item, TextLine) and not item.text.strip())
        ]
