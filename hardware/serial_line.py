"""A serial line for counter devices (the LED number display, the call button) that
survives its device being unplugged and plugged in again.

Configured by one string::

    serial:///dev/ttyUSB1
    serial:///dev/serial/by-id/usb-FTDI_FT232R_A50285BI-if00-port0?baudrate=9600
    serial:///dev/ttyS0?baudrate=19200&parity=E&stopbits=1&bytesize=8&timeout=2

``timeout`` (seconds, default 1) bounds every write and every wait for a reply, so
a device that stops reading never hangs the agent. Devices add options of their own
(the LED's ``ack``, the button's ``debounce``); see led.py and button.py.

A USB serial adapter that is unplugged makes its /dev node vanish and every
read or write on the old handle fail (EIO); plugged in again it comes back,
perhaps under another number. :meth:`SerialLine.gone` notices both, so the owner
closes the line and opens the path again. The /dev/serial/by-id/... names that udev
makes follow the adapter across ports and renumbering: prefer them.
"""

from __future__ import annotations

import contextlib
import os
import termios
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

import serial

SERIAL_FORMS = (
    "serial:///dev/ttyUSB0 or serial:///dev/serial/by-id/...; options: ?baudrate=9600"
    "&bytesize=5..8&parity=N|E|O|M|S&stopbits=1|1.5|2&timeout=SECONDS"
)
LINE_OPTIONS = {"baudrate", "bytesize", "parity", "stopbits", "timeout"}
# What a vanished device raises: pyserial's own errors, the OS's, and termios.error
# (from tcdrain and friends), which is not an OSError.
DEVICE_ERRORS = (serial.SerialException, OSError, termios.error)


class SerialUrlError(ValueError):
    """A serial device string that cannot be used; the message shows the accepted forms."""


class DeviceUnavailable(Exception):
    """The device is not there, or stopped answering: close and open it again later."""


@dataclass(frozen=True)
class SerialSpec:
    path: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    timeout: float = 1.0
    # Device options (the LED's ack, the button's debounce), as given.
    options: dict[str, str] = field(default_factory=dict)


def _bad(url: str, why: str, device_options: set[str]) -> SerialUrlError:
    extra = (
        f" (this device also takes: {', '.join(sorted(device_options))})" if device_options else ""
    )
    return SerialUrlError(f"bad serial device {url!r}: {why}. Accepted: {SERIAL_FORMS}{extra}")


def parse_serial_url(url: str, device_options: set[str] = frozenset()) -> SerialSpec:
    """``serial:///dev/ttyUSB0?baudrate=9600`` -> SerialSpec; ``device_options`` names
    the extra query options the device driver understands."""
    parts = urlsplit(url)
    if parts.scheme != "serial":
        raise _bad(url, "it must start with serial://", device_options)
    if parts.netloc:
        raise _bad(url, "give an absolute path after serial:// (three slashes)", device_options)
    path = unquote(parts.path)
    if not path.startswith("/") or path == "/":
        raise _bad(url, "no device path", device_options)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = set(query) - LINE_OPTIONS - set(device_options)
    if unknown:
        raise _bad(url, f"unknown option {', '.join(sorted(unknown))}", device_options)
    try:
        baudrate = int(query.get("baudrate", 9600))
        bytesize = int(query.get("bytesize", 8))
        parity = query.get("parity", "N").upper()
        stopbits = float(query.get("stopbits", 1))
        timeout = float(query.get("timeout", 1.0))
    except ValueError as exc:
        raise _bad(url, f"a number was expected ({exc})", device_options) from None
    if baudrate <= 0:
        raise _bad(url, "baudrate must be positive", device_options)
    if bytesize not in (5, 6, 7, 8):
        raise _bad(url, "bytesize must be 5, 6, 7 or 8", device_options)
    if parity not in ("N", "E", "O", "M", "S"):
        raise _bad(url, "parity must be N, E, O, M or S", device_options)
    if stopbits not in (1, 1.5, 2):
        raise _bad(url, "stopbits must be 1, 1.5 or 2", device_options)
    if not 0 < timeout <= 60:
        raise _bad(url, "timeout must be between 0 and 60 seconds", device_options)
    options = {key: value for key, value in query.items() if key not in LINE_OPTIONS}
    return SerialSpec(path, baudrate, bytesize, parity, stopbits, timeout, options)


class SerialLine:
    """One serial device, opened on demand. Every failure of the device comes out as
    :class:`DeviceUnavailable` (and closes the line); nothing here retries or sleeps:
    the owner decides when to open it again."""

    def __init__(self, spec: SerialSpec) -> None:
        self.spec = spec
        self._port: serial.Serial | None = None

    @property
    def path(self) -> str:
        return self.spec.path

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def open(self) -> None:
        if self._port is not None:
            return
        try:
            self._port = serial.Serial(
                self.spec.path,
                baudrate=self.spec.baudrate,
                bytesize=self.spec.bytesize,
                parity=self.spec.parity,
                stopbits=self.spec.stopbits,
                timeout=self.spec.timeout,
                write_timeout=self.spec.timeout,
                # Two agents driving one device would garble it: the second one fails.
                exclusive=True,
            )
        except (*DEVICE_ERRORS, ValueError) as exc:
            raise DeviceUnavailable(f"cannot open {self.spec.path}: {exc}") from None

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            # An unplugged device cannot be closed cleanly; it is gone anyway.
            with contextlib.suppress(*DEVICE_ERRORS):
                port.close()

    def _failed(self, what: str, exc: Exception) -> DeviceUnavailable:
        self.close()
        return DeviceUnavailable(f"{self.spec.path}: {what}: {exc}")

    def _require(self) -> serial.Serial:
        if self._port is None:
            raise DeviceUnavailable(f"{self.spec.path} is not open")
        return self._port

    def write(self, data: bytes) -> None:
        port = self._require()
        try:
            port.write(data)
            port.flush()
        except serial.SerialTimeoutException as exc:
            raise self._failed(f"write timed out after {self.spec.timeout:g} s", exc) from None
        except DEVICE_ERRORS as exc:
            raise self._failed("write failed", exc) from None

    def read(self, size: int = 1, timeout: float | None = None) -> bytes:
        """Up to ``size`` bytes: returns as soon as one has arrived (then whatever else
        is waiting, up to ``size``), or b"" after ``timeout`` seconds."""
        port = self._require()
        try:
            port.timeout = self.spec.timeout if timeout is None else timeout
            data = port.read(1)
            if data and size > 1:
                waiting = port.in_waiting
                if waiting:
                    data += port.read(min(waiting, size - 1))
            return data
        except DEVICE_ERRORS as exc:
            raise self._failed("read failed", exc) from None

    def read_line(self, timeout: float | None = None) -> str | None:
        """One line of text (without its CR/LF), or None when none came in time."""
        deadline = time.monotonic() + (self.spec.timeout if timeout is None else timeout)
        buffer = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            byte = self.read(1, timeout=left)
            if byte in (b"\n", b"\r"):
                if buffer:
                    return buffer.decode("ascii", "replace")
            elif byte:
                buffer += byte

    def discard_input(self) -> None:
        """Drop whatever the device sent that nobody asked for."""
        port = self._require()
        try:
            port.reset_input_buffer()
        except DEVICE_ERRORS as exc:
            raise self._failed("reset failed", exc) from None

    def gone(self) -> bool:
        """True when the open device was unplugged or its path now leads to another
        device (plugged in again): the line is closed then, ready to be opened anew."""
        port = self._port
        if port is None:
            return False
        try:
            now = os.stat(self.spec.path).st_rdev
            opened = os.fstat(port.fileno()).st_rdev
            _ = port.in_waiting  # an ioctl: fails with EIO on an unplugged adapter
        except (*DEVICE_ERRORS, ValueError):
            self.close()
            return True
        if now != opened:
            self.close()
            return True
        return False
