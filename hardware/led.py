"""The LED number display above a counter: a small line protocol over a serial line.

The protocol (docs/hardware.md has the same, for whoever builds or programs the
display's controller):

* ASCII, one command per line, ended by CR LF (a device should accept a bare LF
  too). Text is printable ASCII, at most 32 characters; the driver turns
  Azerbaijani and Turkish letters into their plain Latin look-alikes and anything
  else into "?", and never sends a CR or LF inside a command.
* ``SHOW <text>``   show the text steadily (the ticket number: ``SHOW A012``);
* ``BLINK <text>``  show the text blinking for a few seconds, then steadily, as
  SHOW (sent when the counter recalls a visitor);
* ``CLEAR``         blank the display (the counter has nobody called);
* ``TEXT <text>``   free text, scrolled by the device when it is longer than the
  display;
* ``PING``          do nothing, answer OK (the agent's health check).

A device may answer each command with one line, ``OK`` or ``ERR <reason>``; turn
that on with ``?ack=1`` in the device string (``serial:///dev/ttyUSB1?ack=1``) and
the driver waits up to ``timeout`` seconds for the answer and pings the device
every ``ping`` seconds (default 10), so a display that is switched off is noticed and
redrawn when it comes back. Without ``ack`` the line is write-only (many cheap
displays never answer): an unplugged adapter is noticed, a display that lost power
is not, so the driver repeats what the display should show every ``refresh``
seconds (default 60; 0 for never).

:class:`LedDisplay` speaks the protocol; :class:`LedKeeper` is a thread that keeps
the display showing what it should, through unplugging and time-outs.
"""

from __future__ import annotations

import logging
import threading
import time

from .serial_line import DeviceUnavailable, SerialLine, SerialUrlError, parse_serial_url

log = logging.getLogger("novbe.led")

MAX_TEXT = 32
LED_OPTIONS = {"ack", "ping", "refresh"}
# Letters of Azerbaijani (and Turkish) with no ASCII form, as a display can show them.
_PLAIN = str.maketrans("əƏğĞıİöÖşŞüÜçÇ", "eEgGiIoOsSuUcC")


class LedError(Exception):
    """The display answered ERR: it understood the line and refused it."""


def led_text(text: str) -> str:
    """``text`` as the protocol carries it: printable ASCII, one line, at most 32."""
    plain = str(text).translate(_PLAIN)
    cleaned = "".join(ch if " " <= ch <= "~" else "?" for ch in plain)
    return cleaned.strip()[:MAX_TEXT]


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "yes", "true", "on")


class LedDisplay:
    """Speaks the protocol over one :class:`SerialLine`. Raises DeviceUnavailable when
    the device is not there or did not answer in time, LedError when it said ERR."""

    def __init__(
        self,
        line: SerialLine,
        *,
        ack: bool = False,
        ping_every: float = 10.0,
        refresh: float = 60.0,
    ) -> None:
        self.line = line
        self.ack = ack
        self.ping_every = ping_every
        self.refresh = refresh

    @property
    def check_every(self) -> float:
        """Seconds between health checks: a PING with answers, else a repeat (0: none)."""
        return self.ping_every if self.ack else self.refresh

    @classmethod
    def from_url(cls, url: str) -> LedDisplay:
        spec = parse_serial_url(url, LED_OPTIONS)
        try:
            ping = float(spec.options.get("ping", 10))
            refresh = float(spec.options.get("refresh", 60))
        except ValueError:
            raise SerialUrlError(
                f"bad LED device {url!r}: ping and refresh are numbers of seconds"
            ) from None
        ack = _flag(spec.options.get("ack", "0"))
        return cls(SerialLine(spec), ack=ack, ping_every=ping, refresh=refresh)

    @property
    def path(self) -> str:
        return self.line.path

    def show(self, text: str) -> None:
        self.send("SHOW", text)

    def blink(self, text: str) -> None:
        self.send("BLINK", text)

    def clear(self) -> None:
        self.send("CLEAR")

    def text(self, message: str) -> None:
        self.send("TEXT", message)

    def ping(self) -> None:
        self.send("PING")

    def send(self, command: str, text: str | None = None) -> None:
        line = command if text is None else f"{command} {led_text(text)}"
        self.line.open()
        if self.ack:
            self.line.discard_input()  # a late answer to an earlier command is not ours
        self.line.write(line.encode("ascii") + b"\r\n")
        if self.ack:
            self._answer(line)

    def _answer(self, sent: str) -> None:
        deadline = time.monotonic() + self.line.spec.timeout
        while (left := deadline - time.monotonic()) > 0:
            reply = self.line.read_line(timeout=left)
            if reply is None:
                break
            reply = reply.strip()
            if reply == "OK":
                return
            if reply.startswith("ERR"):
                raise LedError(f"display refused {sent!r}: {reply[3:].strip() or 'no reason'}")
            # Anything else (a boot banner, noise) is not an answer: keep waiting.
        self.line.close()
        raise DeviceUnavailable(
            f"{self.path}: no answer to {sent!r} within {self.line.spec.timeout:g} s"
        )


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown>"


_UNKNOWN = _Unknown()


class LedKeeper:
    """Keeps a display showing the wanted number. ``show``/``blink`` only record what
    is wanted and return at once (they are called from network threads); a thread of
    its own talks to the device, opens it again after it was unplugged, and redraws
    it then, since a display that lost power comes back blank."""

    POLL = 1.0  # seconds between checks that the device is still there
    RETRY_MAX = 10.0

    def __init__(self, display: LedDisplay) -> None:
        self.display = display
        self._cond = threading.Condition()
        self._wanted: object = _UNKNOWN  # a text, None (blank), or not known yet
        self._blink: str | None = None  # blink this once, if it is still wanted
        self._shown: object = _UNKNOWN  # what the device shows, as far as we know
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._down: str | None = None  # why the device is out of use, once logged
        self._retry_at = 0.0
        self._retry_delay = 1.0
        self._checked_at = 0.0  # when the device last showed it is there
        self.sent: list[str] = []  # the last commands sent, newest last (for logs and tests)

    def start(self) -> LedKeeper:
        self._thread = threading.Thread(target=self._run, name="led", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)
        self.display.line.close()

    def show(self, text: str | None) -> None:
        """Show ``text`` steadily (None: blank); nothing is sent if it shows already."""
        with self._cond:
            self._wanted = led_text(text) if text else None
            if self._blink != self._wanted:
                self._blink = None
            self._cond.notify_all()

    def blink(self, text: str) -> None:
        """Blink ``text`` once (a recall) and leave it showing."""
        with self._cond:
            self._wanted = self._blink = led_text(text)
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._stopping and not self._work_due():
                    self._cond.wait(self.POLL)
                if self._stopping:
                    return
                wanted, blink = self._wanted, self._blink
            self._step(wanted, blink)

    def _work_due(self) -> bool:
        return self._down is None and (self._blink is not None or self._shown != self._wanted)

    def _step(self, wanted: object, blink: str | None) -> None:
        display = self.display
        now = time.monotonic()
        try:
            if display.line.is_open and display.line.gone():
                raise DeviceUnavailable(f"{display.path} was unplugged")
            if not display.line.is_open:
                if now < self._retry_at:
                    return
                display.line.open()
                self._shown = _UNKNOWN
                self._checked_at = now
                log.info("LED display %s: open", display.path)
            if wanted is _UNKNOWN:
                pass  # nothing to show before the first snapshot: leave the display be
            elif blink is not None and blink == wanted:
                self._send("BLINK", blink)
            elif self._shown != wanted:
                if wanted:
                    self._send("SHOW", wanted)
                else:
                    self._send("CLEAR", None)
            elif display.check_every and now - self._checked_at >= display.check_every:
                if display.ack:
                    display.ping()
                elif wanted:  # it may have lost power and come back blank
                    display.send("SHOW", wanted)
                else:
                    display.send("CLEAR")
                self._checked_at = now
            with self._cond:
                self._shown = wanted
                if self._blink == blink:
                    self._blink = None
            if self._down is not None:
                log.info("LED display %s: back in use", display.path)
            self._down = None
            self._retry_delay = 1.0
        except DeviceUnavailable as exc:
            display.line.close()
            self._shown = _UNKNOWN
            if self._down is None:
                log.warning("LED display: %s; retrying until it is back", exc)
            self._down = str(exc)
            self._retry_at = time.monotonic() + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, self.RETRY_MAX)
        except LedError as exc:
            # It understood and refused: sending it again would not help.
            log.error("LED display %s: %s", display.path, exc)
            with self._cond:
                self._shown = wanted
                self._blink = None
        except Exception:  # a bug must not leave the counter with a frozen display
            log.exception("LED display %s: unexpected error; opening it again", display.path)
            display.line.close()
            self._shown = _UNKNOWN
            self._down = "unexpected error"
            self._retry_at = time.monotonic() + self.RETRY_MAX

    def _send(self, command: str, text) -> None:
        self.display.send(command, text)
        self._checked_at = time.monotonic()
        entry = command if text is None else f"{command} {text}"
        self.sent = [*self.sent[-19:], entry]
        log.info("LED display %s: %s", self.display.path, entry)
