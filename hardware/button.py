"""The counter's physical "call next" button, serial or keyboard-style USB.

Two kinds, each configured by one string:

``serial:///dev/ttyUSB2?baudrate=9600&debounce=1.0``
    A button (or a small keypad) on a serial line. Each press sends one line (text
    ended by CR, LF or CR LF) or, for devices that send no line end, a few bytes and
    then nothing: bytes followed by 50 ms of silence count as one press. The text
    says what to do: ``R`` or ``RECALL`` recalls the counter's current visitor;
    anything else (``N``, ``NEXT``, ``1``, a bare CR...) calls next.

``keyboard:///dev/input/by-id/usb-...-event-kbd?grab=1&keys=28,96&recall=19&debounce=1.0``
    A USB button that acts as a keyboard (HID) and "types" a key per press. It is
    read from its Linux input device (/dev/input/event*) with nothing but the
    standard library: the kernel hands out fixed-size ``struct input_event``
    records (``struct timeval`` of two C longs, then u16 type, u16 code, s32 value;
    24 bytes on 64-bit Linux), and a key press is type EV_KEY (1) with value 1
    (0 is the release, 2 the auto-repeat, both ignored). By default the agent
    *grabs* the device (the EVIOCGRAB ioctl), so its key presses reach no other
    program: a button typing Enter into the counter's browser would click
    whatever has the focus. ``keys`` limits which key codes call next (default:
    any key but the recall keys); ``recall`` lists the key codes that recall
    (default 19, the R key; ``recall=`` for none). Codes are those of
    linux/input-event-codes.h (28 Enter, 96 keypad Enter, 57 space, 49 N).
    Reading an input device needs root or the ``input`` group.

Every press goes through a debouncer: presses of the same action within
``debounce`` seconds (default 1) of the last accepted one count once, so a bouncing
contact or an impatient double press calls one visitor, not two.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import select
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from .serial_line import DeviceUnavailable, SerialLine, SerialUrlError, parse_serial_url

log = logging.getLogger("novbe.button")

NEXT = "next"
RECALL = "recall"
DEFAULT_DEBOUNCE = 1.0
BUTTON_FORMS = (
    "serial:///dev/ttyUSB2[?baudrate=9600&debounce=1.0] or "
    "keyboard:///dev/input/by-id/...-event-kbd[?grab=1&keys=28,96&recall=19&debounce=1.0]"
)

# struct input_event (linux/input.h): struct timeval {long tv_sec; long tv_usec;},
# __u16 type, __u16 code, __s32 value, in the machine's native sizes and alignment.
INPUT_EVENT = struct.Struct("llHHi")
EV_KEY = 1
KEY_DOWN = 1
KEY_R = 19
# _IOW('E', 0x90, int): take the device for ourselves (1) or give it back (0).
EVIOCGRAB = 0x40044590


@dataclass(frozen=True)
class Press:
    action: str  # NEXT or RECALL
    at: float  # time.monotonic() when it arrived
    raw: str  # what the device sent, for the log


class Debouncer:
    """Presses of one action within ``window`` seconds of the last accepted one are
    dropped (counted from the accepted press, so a long burst of bounces still
    yields one press per window)."""

    def __init__(self, window: float = DEFAULT_DEBOUNCE) -> None:
        self.window = window
        self._last: dict[str, float] = {}

    def accept(self, press: Press) -> bool:
        last = self._last.get(press.action)
        if last is not None and press.at - last < self.window:
            return False
        self._last[press.action] = press.at
        return True


def action_for_text(text: str) -> str:
    return RECALL if text.strip().upper() in ("R", "RECALL") else NEXT


class LineParser:
    """Serial bytes -> presses: one per line (CR, LF or CR LF), or per burst of bytes
    without a line end once the line has gone quiet (:meth:`flush`)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._after_cr = False

    def feed(self, data: bytes, at: float) -> list[Press]:
        presses = []
        for value in data:
            byte = bytes([value])
            if byte == b"\n" and self._after_cr:  # the LF of a CR LF
                self._after_cr = False
                continue
            self._after_cr = byte == b"\r"
            if byte in (b"\r", b"\n"):
                presses.append(self._press(at))
            else:
                self._buffer += byte
        return presses

    @property
    def pending(self) -> bool:
        return bool(self._buffer)

    def flush(self, at: float) -> list[Press]:
        return [self._press(at)] if self._buffer else []

    def reset(self) -> None:
        self._buffer, self._after_cr = b"", False

    def _press(self, at: float) -> Press:
        text = self._buffer.decode("latin-1")
        self._buffer = b""
        return Press(action_for_text(text), at, text or "<line end>")


def parse_key_events(data: bytes, next_keys: set[int] | None, recall_keys: set[int]):
    """Whole input_event records in ``data`` -> (actions, bytes left over)."""
    actions = []
    whole = len(data) - len(data) % INPUT_EVENT.size
    for _sec, _usec, kind, code, value in INPUT_EVENT.iter_unpack(data[:whole]):
        if kind != EV_KEY or value != KEY_DOWN:
            continue
        if code in recall_keys:
            actions.append((RECALL, code))
        elif next_keys is None or code in next_keys:
            actions.append((NEXT, code))
    return actions, data[whole:]


class Button:
    """Reads presses until stopped, through unplugging: ``run(on_press, stop)``."""

    RETRY_MAX = 10.0

    def __init__(self, path: str, debounce: float = DEFAULT_DEBOUNCE) -> None:
        self.path = path
        self.debouncer = Debouncer(debounce)
        self.ready = threading.Event()  # set while the device is open and read
        self._down: str | None = None

    def run(self, on_press: Callable[[Press], None], stop: threading.Event) -> None:
        delay = 1.0
        try:
            while not stop.is_set():
                try:
                    if not self.is_open:
                        self.open()
                        self.ready.set()
                        log.info("button %s: ready", self.path)
                        self._down, delay = None, 1.0
                    for press in self.read_presses():
                        self._deliver(press, on_press)
                except DeviceUnavailable as exc:
                    self.ready.clear()
                    self.close()
                    if self._down is None:
                        log.warning("button: %s; retrying until it is back", exc)
                    self._down = str(exc)
                    stop.wait(delay)
                    delay = min(delay * 2, self.RETRY_MAX)
                except Exception:  # a bug must not leave the counter without its button
                    log.exception("button %s: unexpected error; opening it again", self.path)
                    self.ready.clear()
                    self.close()
                    stop.wait(delay)
        finally:
            self.ready.clear()
            self.close()

    def _deliver(self, press: Press, on_press: Callable[[Press], None]) -> None:
        if not self.debouncer.accept(press):
            log.info(
                "button %s: %s press ignored (within %g s of the last one)",
                self.path,
                press.action,
                self.debouncer.window,
            )
            return
        log.info("button %s: %s pressed (%r)", self.path, press.action, press.raw)
        try:
            on_press(press)
        except Exception:
            log.exception("button %s: handling the press failed", self.path)

    # What each kind implements.
    @property
    def is_open(self) -> bool:
        raise NotImplementedError

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def read_presses(self) -> list[Press]:
        """Presses that arrived, waiting at most about half a second for one."""
        raise NotImplementedError


class SerialButton(Button):
    QUIET = 0.05  # seconds of silence that end a press sent without a line end

    def __init__(self, line: SerialLine, debounce: float = DEFAULT_DEBOUNCE) -> None:
        super().__init__(line.path, debounce)
        self.line = line
        self.parser = LineParser()

    @property
    def is_open(self) -> bool:
        return self.line.is_open

    def open(self) -> None:
        self.line.open()
        # Presses made while nobody listened must not call a visitor now.
        self.line.discard_input()
        self.parser.reset()

    def close(self) -> None:
        self.line.close()
        self.parser.reset()

    def read_presses(self) -> list[Press]:
        if self.line.gone():
            raise DeviceUnavailable(f"{self.path} was unplugged")
        data = self.line.read(64, timeout=self.QUIET if self.parser.pending else 0.5)
        now = time.monotonic()
        return self.parser.feed(data, now) if data else self.parser.flush(now)


class KeyboardButton(Button):
    def __init__(
        self,
        path: str,
        *,
        next_keys: set[int] | None = None,
        recall_keys: set[int] = frozenset({KEY_R}),
        grab: bool = True,
        debounce: float = DEFAULT_DEBOUNCE,
    ) -> None:
        super().__init__(path, debounce)
        self.next_keys = next_keys
        self.recall_keys = set(recall_keys)
        self.grab = grab
        self._fd: int | None = None
        self._rest = b""

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> None:
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as exc:
            raise DeviceUnavailable(f"cannot open {self.path}: {exc}") from None
        self._rest = b""
        if self.grab:
            try:
                fcntl.ioctl(self._fd, EVIOCGRAB, 1)
            except OSError as exc:
                log.warning(
                    "button %s: cannot grab it (%s): its key presses also reach other programs",
                    self.path,
                    exc,
                )

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)  # closing also releases the grab

    def read_presses(self) -> list[Press]:
        fd = self._fd
        try:
            if os.stat(self.path).st_rdev != os.fstat(fd).st_rdev:
                raise DeviceUnavailable(f"{self.path} now leads to another device")
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                return []
            data = os.read(fd, INPUT_EVENT.size * 64)
        except BlockingIOError:
            return []
        except OSError as exc:  # ENODEV once unplugged
            raise DeviceUnavailable(f"{self.path}: {exc}") from None
        if not data:
            raise DeviceUnavailable(f"{self.path}: end of input")
        actions, self._rest = parse_key_events(self._rest + data, self.next_keys, self.recall_keys)
        now = time.monotonic()
        return [Press(action, now, f"key {code}") for action, code in actions]


def _codes(url: str, value: str) -> set[int]:
    try:
        return {int(code) for code in value.split(",") if code.strip()}
    except ValueError:
        raise SerialUrlError(
            f"bad button {url!r}: key codes are numbers, e.g. keys=28,96. Accepted: {BUTTON_FORMS}"
        ) from None


def _debounce(url: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1
    if not 0 <= seconds <= 10:
        raise SerialUrlError(f"bad button {url!r}: debounce is 0 to 10 seconds")
    return seconds


def open_button(url: str) -> Button:
    """A button from its device string (not opened yet: ``run`` opens it)."""
    scheme = urlsplit(url).scheme
    if scheme == "serial":
        spec = parse_serial_url(url, {"debounce"})
        debounce = _debounce(url, spec.options.get("debounce", str(DEFAULT_DEBOUNCE)))
        return SerialButton(SerialLine(spec), debounce)
    if scheme == "keyboard":
        parts = urlsplit(url)
        path = unquote(parts.path)
        if parts.netloc or not path.startswith("/") or path == "/":
            raise SerialUrlError(
                f"bad button {url!r}: give a device path after keyboard:// (three slashes). "
                f"Accepted: {BUTTON_FORMS}"
            )
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = set(query) - {"grab", "keys", "recall", "debounce"}
        if unknown:
            raise SerialUrlError(
                f"bad button {url!r}: unknown option {', '.join(sorted(unknown))}. "
                f"Accepted: {BUTTON_FORMS}"
            )
        return KeyboardButton(
            path,
            next_keys=_codes(url, query["keys"]) if query.get("keys") else None,
            recall_keys=_codes(url, query.get("recall", str(KEY_R))),
            grab=query.get("grab", "1").strip().lower() not in ("0", "no", "false", "off"),
            debounce=_debounce(url, query.get("debounce", str(DEFAULT_DEBOUNCE))),
        )
    raise SerialUrlError(f"bad button {url!r}: unknown kind. Accepted: {BUTTON_FORMS}")
