"""ESC/POS read as a printer reads it, incrementally, with the answers a printer sends.

:class:`EscPosDecoder` knows ``ESC @`` (reset), ``ESC t n`` (code page: text bytes are
decoded with that table, Epson's numbering), ``GS !`` and ``ESC !`` (character size),
``ESC E`` (bold), ``ESC a`` (alignment), ``GS ( k`` (QR code: the stored payload is captured
when it is printed), ``GS v 0`` (raster image: size and bits kept), ``GS V`` (cut: the end
of a ticket), and answers ``DLE EOT n`` real-time status queries from its
:class:`~hardware.loopback_printer.faults.PrinterState`.

Invariants:

* Anything it does not know is recorded in ``errors``, never skipped silently: tests
  assert there is none.
* A command split across reads is kept until it is whole (bytes arrive as a slow line
  delivers them).
* A ticket ends at a cut; a ticket cut while the printer cannot print goes to
  ``discarded``, not ``jobs``. What came after the last cut is returned by
  :meth:`EscPosDecoder.finish`.

:func:`decode` decodes bytes already captured (a ``dummy://`` printer's output, a file).
"""

from __future__ import annotations

from dataclasses import dataclass

from .faults import PrinterState
from .paper import Job, QrCode, RasterImage, TextLine

ESC, GS, DLE, FS = 0x1B, 0x1D, 0x10, 0x1C

# ESC t n: Epson's character code tables that Python has a codec for.
EPSON_CODE_PAGES = {
    0: "cp437",
    2: "cp850",
    3: "cp860",
    4: "cp863",
    5: "cp865",
    13: "cp857",
    14: "cp737",
    15: "iso8859_7",
    16: "cp1252",
    17: "cp866",
    18: "cp852",
    19: "cp858",
    32: "cp720",
    33: "cp775",
    34: "cp855",
    35: "cp861",
    36: "cp862",
    37: "cp864",
    38: "cp869",
    39: "iso8859_2",
    40: "iso8859_15",
    44: "cp1125",
    45: "cp1250",
    46: "cp1251",
    47: "cp1253",
    48: "cp1254",
    49: "cp1255",
    50: "cp1256",
    51: "cp1257",
    52: "cp1258",
    53: "kz1048",
}


class NeedMore(Exception):
    """The buffer ends in the middle of a command."""


class EscPosDecoder:
    """An incremental ESC/POS decoder. ``feed()`` returns the bytes the printer answers."""

    def __init__(self, code_pages: dict[int, str] | None = None, state: PrinterState | None = None):
        self.code_pages = EPSON_CODE_PAGES if code_pages is None else code_pages
        self.state = state or PrinterState()
        self.jobs: list[Job] = []  # tickets that ended with a cut
        self.discarded: list[Job] = []  # sent while the printer could not print
        self.errors: list[str] = []
        self.status_queries: list[int] = []
        self._buffer = bytearray()
        self._job = Job()
        self._qr_store: bytes | None = None
        self._qr: dict[str, int | str] = {}
        self._reset()

    def _reset(self) -> None:
        self.code_page = 0
        self.width = self.height = 1
        self.bold = False
        self.align = "left"
        self._line: list[str] = []
        self._line_max = (1, 1)
        self._line_bold = False
        self._line_pages: list[str] = []

    # Input

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        answers = bytearray()
        while self._buffer:
            try:
                used, answer = self._command(self._buffer)
            except NeedMore:
                break
            del self._buffer[:used]
            answers += answer
        return bytes(answers)

    def finish(self) -> Job | None:
        """The end of the stream: returns what was printed after the last cut (or None)."""
        if self._buffer:
            self.errors.append(f"stream ended inside a command: {bytes(self._buffer[:8])!r}")
            self._buffer.clear()
        self._flush_line(force=False)
        job, self._job = self._job, Job()
        return job if job.items else None

    # Decoding

    def _need(self, buf: bytearray, n: int) -> None:
        if len(buf) < n:
            raise NeedMore

    def _command(self, buf: bytearray) -> tuple[int, bytes]:
        b = buf[0]
        if b == ESC:
            return self._esc(buf), b""
        if b == GS:
            return self._gs(buf)
        if b == DLE:
            return self._dle(buf)
        if b == FS:
            self._need(buf, 2)
            self.errors.append(f"unknown command FS {buf[1]:#04x}")
            return 2, b""
        if b == 0x0A:
            self._flush_line(force=True)
        elif b == 0x09:
            self._add_char("\t", None)
        elif b in (0x0D, 0x00):
            pass
        elif b < 0x20:
            self.errors.append(f"unexpected control byte {b:#04x}")
        else:
            self._text_byte(b)
        return 1, b""

    def _text_byte(self, b: int) -> None:
        if b < 0x80:
            self._add_char(chr(b), None)
            return
        codec = self.code_pages.get(self.code_page)
        if codec is None:
            self.errors.append(f"text in unknown code page {self.code_page}")
            self._add_char("\ufffd", f"table {self.code_page}")
            return
        try:
            char = bytes([b]).decode(codec)
        except UnicodeDecodeError:
            self.errors.append(f"byte {b:#04x} is undefined in {codec}")
            char = "\ufffd"
        self._add_char(char, codec)

    def _add_char(self, char: str, codec: str | None) -> None:
        if not self._line:
            self._line_max = (self.width, self.height)
            self._line_bold = self.bold
        self._line.append(char)
        self._line_max = (max(self._line_max[0], self.width), max(self._line_max[1], self.height))
        self._line_bold = self._line_bold or self.bold
        if codec and codec not in self._line_pages:
            self._line_pages.append(codec)

    def _flush_line(self, force: bool) -> None:
        if not self._line and not force:
            return
        width, height = self._line_max if self._line else (self.width, self.height)
        self._job.items.append(
            TextLine(
                "".join(self._line),
                width=width,
                height=height,
                bold=self._line_bold if self._line else self.bold,
                align=self.align,
                code_pages=tuple(self._line_pages),
            )
        )
        self._line = []
        self._line_pages = []

    def _end_job(self, cut: str) -> None:
        self._flush_line(force=False)
        job, self._job = self._job, Job()
        job.cut = cut
        (self.jobs if self.state.can_print else self.discarded).append(job)

    def _esc(self, buf: bytearray) -> int:
        self._need(buf, 2)
        c = buf[1]
        if c == ord("@"):
            self._line = []  # the print buffer is cleared
            self._reset()
            return 2
        if c in b"E-GM!tadJ3{rV= U":
            self._need(buf, 3)
            n = buf[2]
            if c == ord("E"):
                self.bold = bool(n & 1)
            elif c == ord("!"):
                self.width = 2 if n & 0x20 else 1
                self.height = 2 if n & 0x10 else 1
                self.bold = bool(n & 0x08)
            elif c == ord("t"):
                self.code_page = n
                if n not in self.code_pages:
                    self.errors.append(f"ESC t {n}: no such code page on this printer")
            elif c == ord("a"):
                self.align = {0: "left", 1: "center", 2: "right"}.get(n % 48, "left")
            elif c in (ord("d"), ord("J")):
                self._flush_line(force=False)
            return 3
        if c == ord("2"):
            return 2
        if c == ord("c"):
            self._need(buf, 4)
            return 4
        if c == ord("p"):
            self._need(buf, 5)
            return 5
        if c == ord("B"):
            self._need(buf, 4)
            return 4
        if c == ord("*"):  # column bit image: decoded for length only
            self._need(buf, 5)
            m, columns = buf[2], buf[3] | buf[4] << 8
            size = 5 + columns * (3 if m in (32, 33) else 1)
            self._need(buf, size)
            self.errors.append("ESC * column image (not expected from the ticket renderer)")
            return size
        self.errors.append(f"unknown command ESC {c:#04x}")
        return 2

    def _gs(self, buf: bytearray) -> tuple[int, bytes]:
        self._need(buf, 2)
        c = buf[1]
        if c == ord("!"):
            self._need(buf, 3)
            self.width = (buf[2] >> 4) + 1
            self.height = (buf[2] & 0x0F) + 1
            return 3, b""
        if c in b"Bb|HhwfaI":
            self._need(buf, 3)
            return 3, b""
        if c == ord("r"):  # transmit status: paper sensor
            self._need(buf, 3)
            paper = self.state.status_byte(4) or 0
            return 3, bytes([(0x03 if paper & 0x0C else 0) | (0x0C if paper & 0x60 else 0)])
        if c == ord("V"):
            self._need(buf, 3)
            m = buf[2]
            size = 4 if m in (65, 66, 97, 98, 103, 104) else 3
            self._need(buf, size)
            self._end_job("partial" if m in (1, 49, 66, 98, 104) else "full")
            return size, b""
        if c == ord("v"):
            self._need(buf, 8)
            if buf[2] != ord("0"):
                self.errors.append(f"GS v {buf[2]:#04x}")
            width_bytes = buf[4] | buf[5] << 8
            height = buf[6] | buf[7] << 8
            size = 8 + width_bytes * height
            self._need(buf, size)
            self._flush_line(force=False)
            self._job.items.append(RasterImage(width_bytes * 8, height, bytes(buf[8:size])))
            return size, b""
        if c == ord("("):
            self._need(buf, 5)
            length = buf[3] | buf[4] << 8
            size = 5 + length
            self._need(buf, size)
            if buf[2] == ord("k"):
                self._gs_k(bytes(buf[5:size]))
            else:
                self.errors.append(f"GS ( {chr(buf[2])!r} (not expected from the renderer)")
            return size, b""
        if c == ord("L") or c == ord("W"):
            self._need(buf, 4)
            return 4, b""
        self.errors.append(f"unknown command GS {c:#04x}")
        return 2, b""

    def _gs_k(self, body: bytes) -> None:
        cn, fn, rest = body[0], body[1], body[2:]
        if cn != ord("1"):
            self.errors.append(f"GS ( k for symbol type {cn}")
            return
        if fn == 65:
            self._qr["model"] = rest[0] - 48
        elif fn == 67:
            self._qr["size"] = rest[0]
        elif fn == 69:
            self._qr["ec"] = "LMQH"[rest[0] - 48]
        elif fn == 80:
            self._qr_store = rest[1:]
        elif fn == 81:
            if self._qr_store is None:
                self.errors.append("QR print without stored data")
                return
            self._flush_line(force=False)
            self._job.items.append(
                QrCode(
                    self._qr_store.decode("utf-8"),
                    module_size=self._qr.get("size"),  # type: ignore[arg-type]
                    error_correction=self._qr.get("ec"),  # type: ignore[arg-type]
                    model=self._qr.get("model"),  # type: ignore[arg-type]
                )
            )
        else:
            self.errors.append(f"GS ( k function {fn}")

    def _dle(self, buf: bytearray) -> tuple[int, bytes]:
        self._need(buf, 3)
        c, n = buf[1], buf[2]
        if c == 0x04:  # EOT: real-time status
            self.status_queries.append(n)
            answer = self.state.status_byte(n)
            if answer is None:
                self.errors.append(f"DLE EOT {n}")
                return 3, b""
            return 3, bytes([answer])
        if c == 0x05:  # ENQ
            return 3, b""
        if c == 0x14:  # DC4 fn m t
            self._need(buf, 5)
            return 5, b""
        self.errors.append(f"unknown command DLE {c:#04x}")
        return 2, b""


@dataclass
class Decoded:
    jobs: list[Job]
    unfinished: Job | None
    errors: list[str]


def decode(data: bytes, code_pages: dict[int, str] | None = None) -> Decoded:
    """Decode captured ESC/POS bytes (e.g. a dummy:// printer's output)."""
    decoder = EscPosDecoder(code_pages)
    decoder.feed(data)
    unfinished = decoder.finish()
    return Decoded(decoder.jobs, unfinished, decoder.errors)
