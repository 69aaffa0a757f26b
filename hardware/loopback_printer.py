"""A loopback ESC/POS thermal printer: it decodes the byte stream and answers status, for
the tests (no real printer is attached there) and for the demo (``novbe loopback-printer``).

:class:`EscPosDecoder` reads ESC/POS as a printer does: ``ESC @`` (reset), ``ESC t n`` (code
page: text bytes are decoded with that table, Epson's numbering), ``GS !`` and ``ESC !``
(character size), ``ESC E`` (bold), ``ESC a`` (alignment), ``GS ( k`` (QR code: the stored
payload is captured when it is printed), ``GS v 0`` (raster image: size and bits kept),
``GS V`` (cut: the end of a ticket), and answers ``DLE EOT n`` real-time status queries from
the printer's simulated state, as the ESC/POS reference specifies the bits. Anything it does
not know is recorded in ``errors`` (tests assert there is none).

:class:`FakeNetworkPrinter` serves it on 127.0.0.1 (port 9100's protocol: raw bytes over TCP);
:class:`FakeSerialPrinter` on a pseudo-terminal. Both act out ``paper_out``, ``paper_low``,
``cover_open``, ``cutter_error``, ``slow`` (seconds before it reads or answers anything) and
``drop_after`` (network only: closes the connection after that many bytes, with a reset);
the network one also ``offline`` (refuses connections). :func:`decode` decodes bytes already
captured (dummy://), :func:`preview` draws a decoded ticket to look at.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import threading
import time
import tty
from dataclasses import dataclass, field

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


@dataclass
class PrinterState:
    """The simulated printer's condition (what DLE EOT reports)."""

    paper_out: bool = False
    paper_low: bool = False
    cover_open: bool = False
    cutter_error: bool = False

    def status_byte(self, n: int) -> int | None:
        """The answer to DLE EOT n: bits 1 and 4 always set, bits 0 and 7 clear."""
        base = 0x12
        stopped = self.paper_out or self.cover_open or self.cutter_error
        if n == 1:  # printer status: bit 3 offline
            return base | (0x08 if stopped else 0)
        if n == 2:  # offline cause: 2 cover open, 5 stopped for paper end, 6 error
            return (
                base
                | (0x04 if self.cover_open else 0)
                | (0x20 if self.paper_out else 0)
                | (0x40 if self.cutter_error else 0)
            )
        if n == 3:  # error cause: 3 autocutter
            return base | (0x08 if self.cutter_error else 0)
        if n == 4:  # roll paper sensor: 2-3 near end, 5-6 paper end
            low = self.paper_low or self.paper_out
            return base | (0x0C if low else 0) | (0x60 if self.paper_out else 0)
        return None

    @property
    def can_print(self) -> bool:
        return not (self.paper_out or self.cover_open or self.cutter_error)


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


class _FakePrinter:
    """What both fakes share: the state, the decoded jobs, the acted-out failures."""

    def __init__(
        self,
        *,
        code_pages: dict[int, str] | None = None,
        paper_out: bool = False,
        paper_low: bool = False,
        cover_open: bool = False,
        cutter_error: bool = False,
        slow: float = 0.0,
        drop_after: int | None = None,
    ) -> None:
        self.code_pages = code_pages
        self.state = PrinterState(paper_out, paper_low, cover_open, cutter_error)
        self.slow = slow
        self.drop_after = drop_after
        self.jobs: list[Job] = []
        self.discarded: list[Job] = []
        self.unfinished: list[Job] = []  # what a connection sent after its last cut
        self.errors: list[str] = []
        self.status_queries: list[int] = []
        self.received = bytearray()
        self.connections = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def set(self, **changes: object) -> None:
        """Change the simulated state: paper_out, paper_low, cover_open, cutter_error, slow,
        drop_after."""
        for name, value in changes.items():
            if hasattr(self.state, name):
                setattr(self.state, name, value)
            elif name in ("slow", "drop_after"):
                setattr(self, name, value)
            else:
                raise AttributeError(name)

    def _decoder(self) -> EscPosDecoder:
        return EscPosDecoder(self.code_pages, self.state)

    def _feed(self, decoder: EscPosDecoder, data: bytes) -> bytes:
        """Decode ``data``; what it completed shows in the printer's lists at once."""
        answer = decoder.feed(data)
        self._absorb(decoder)
        return answer

    def _absorb(self, decoder: EscPosDecoder, unfinished: Job | None = None) -> None:
        with self._lock:
            self.jobs += decoder.jobs
            self.discarded += decoder.discarded
            self.errors += decoder.errors
            self.status_queries += decoder.status_queries
            if unfinished:
                self.unfinished.append(unfinished)
        for done in (decoder.jobs, decoder.discarded, decoder.errors, decoder.status_queries):
            done.clear()

    def _collect(self, decoder: EscPosDecoder) -> None:
        """The connection ended: keep what came after the last cut as unfinished."""
        unfinished = decoder.finish()
        self._absorb(decoder, unfinished)

    def _pause(self) -> None:
        if self.slow:
            self._stopping.wait(self.slow)

    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> list[Job]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.jobs) >= count:
                    return list(self.jobs)
            time.sleep(0.01)
        raise AssertionError(f"{len(self.jobs)} jobs printed, expected {count}")

    def _start_thread(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="fake-printer")
        thread.start()
        self._threads.append(thread)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


class FakeNetworkPrinter(_FakePrinter):
    """An ESC/POS printer on 127.0.0.1 (a raw TCP port, like port 9100 on a real one).

    ``offline=True`` refuses connections (nothing listens on the port)."""

    def __init__(self, *, offline: bool = False, **options) -> None:
        super().__init__(**options)
        self.port = 0
        self._listener: socket.socket | None = None
        self._offline = offline
        self._clients: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def offline(self) -> bool:
        return self._offline

    def set(self, **changes: object) -> None:
        if "offline" in changes:
            offline = bool(changes.pop("offline"))
            if offline != self._offline:
                self._offline = offline
                self._close_listener() if offline else self._listen()
        super().set(**changes)

    def start(self) -> None:
        if self.port == 0 or not self._offline:
            self._listen()
        if self._offline:
            self._close_listener()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(8)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._start_thread(self._accept, listener)

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._clients.add(client)
            self._start_thread(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        decoder = self._decoder()
        taken = 0
        try:
            client.settimeout(0.2)
            while not self._stopping.is_set():
                try:
                    data = client.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                self._pause()
                if self.drop_after is not None and taken + len(data) > self.drop_after:
                    data = data[: max(0, self.drop_after - taken)]
                    with self._lock:
                        self.received += data
                    self._feed(decoder, data)
                    # Close with a reset, as a printer switched off mid-ticket would look.
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
                taken += len(data)
                with self._lock:
                    self.received += data
                answer = self._feed(decoder, data)
                if answer:
                    client.sendall(answer)
        except OSError:
            pass
        finally:
            with self._lock:
                self._clients.discard(client)
            client.close()
            self._collect(decoder)

    def stop(self) -> None:
        self._stopping.set()
        self._close_listener()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)


class FakeSerialPrinter(_FakePrinter):
    """An ESC/POS printer on the far end of a pseudo-terminal: ``url`` is serial://..."""

    def __init__(self, baudrate: int = 19200, **options) -> None:
        super().__init__(**options)
        self.baudrate = baudrate
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no line editing: bytes pass as they are
        self.device = os.ttyname(self.slave)

    @property
    def url(self) -> str:
        return f"serial://{self.device}?baudrate={self.baudrate}"

    def start(self) -> None:
        self._start_thread(self._serve)

    def _serve(self) -> None:
        decoder = self._decoder()
        while not self._stopping.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                break
            if not data:
                break
            self._pause()
            with self._lock:
                self.received += data
            answer = self._feed(decoder, data)
            if answer:
                os.write(self.master, answer)
        self._collect(decoder)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


def preview(job: Job, width: int = 576):
    """A picture of a decoded ticket (text drawn in a monospace font), to look at by eye."""
    import qrcode
    from PIL import Image, ImageDraw, ImageFont

    from hardware.escpos_render import find_font

    mono = find_font().replace("DejaVuSans.ttf", "DejaVuSansMono.ttf")
    parts: list[Image.Image] = []
    for item in job.items:
        if isinstance(item, TextLine):
            font = ImageFont.truetype(mono, 20 * item.height)
            part = Image.new("L", (width, 24 * item.height), 255)
            draw = ImageDraw.Draw(part)
            x = {"left": 0, "center": (width - font.getlength(item.text)) / 2}.get(item.align, 0)
            draw.text((x, 0), item.text, font=font, fill=0)
            parts.append(part)
        elif isinstance(item, RasterImage):
            parts.append(item.to_pil().convert("L"))
        else:
            code = qrcode.QRCode(box_size=item.module_size or 3, border=1)
            code.add_data(item.payload)
            image = code.make_image().get_image().convert("L")
            part = Image.new("L", (width, image.height), 255)
            part.paste(image, ((width - image.width) // 2, 0))
            parts.append(part)
    sheet = Image.new("L", (width + 16, sum(p.height for p in parts) + 32), 255)
    y = 16
    for part in parts:
        sheet.paste(part, (8, y))
        y += part.height
    return sheet


def serve(port: int, out_dir: str) -> None:
    """``novbe loopback-printer``: a printer on 127.0.0.1:``port`` that writes every ticket it
    receives to ``out_dir`` as text (``NNNN.txt``) and as a picture (``NNNN.png``). Create the
    file ``PAPER_OUT`` in ``out_dir`` to make it report no paper; remove it to refill."""
    from pathlib import Path

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "PAPER_OUT"
    printer = FakeNetworkPrinter()
    printer.port = port
    printer.start()
    print(
        f"loopback printer on tcp://127.0.0.1:{printer.port}, tickets go to {folder}/", flush=True
    )
    written = 0
    try:
        while True:
            out = marker.exists()
            if out != printer.state.paper_out:
                printer.set(paper_out=out)
                print("paper out" if out else "paper refilled", flush=True)
            with printer._lock:
                jobs = list(printer.jobs)
            for job in jobs[written:]:
                written += 1
                # The picture first: a ticket's .txt appearing means both are there.
                preview(job).save(folder / f"{written:04d}.png")
                (folder / f"{written:04d}.txt").write_text(job.text, encoding="utf-8")
                print(f"printed ticket {written:04d}", flush=True)
            time.sleep(0.3)
    except KeyboardInterrupt:
        pass
    finally:
        printer.stop()
