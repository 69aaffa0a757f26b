"""Thermal ticket printers on python-escpos: addresses, printing, health (issue 4).

A printer is configured by one address string (see :data:`ACCEPTED_FORMS`)::

    printer = TicketPrinter("tcp://192.168.1.50:9100?profile=TM-T88V&paper=80")
    printer.print_ticket(ticket)      # raises PrintError(reason) when it could not print
    printer.status()                  # PrinterStatus(online, paper, cover_open, error)

Every ticket opens the connection, prints and closes it again (a network printer kept open
across jobs causes delays and errors). Every step has a time-out: connecting, each write, each
status answer, and a watchdog over the whole job. Where the printer answers ESC/POS real-time
status queries (``DLE EOT``: tcp, serial and usb), it is asked before the ticket (so a printer
out of paper or with its cover open is reported instead of swallowing the ticket) and after it
(so a connection dropped mid-ticket or paper running out is noticed). USB, serial and CUPS need
python-escpos's optional extras; they are imported only when such a printer is used.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import re
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from escpos.exceptions import DeviceNotFoundError

from .escpos_render import FontNotFoundError, TicketRenderer, profile_names
from .ticket import TicketPrint

log = logging.getLogger("novbe.printer")

KINDS = ("usb", "tcp", "serial", "file", "cups", "dummy")

ACCEPTED_FORMS = (
    "usb://VID:PID                   e.g. usb://04b8:0e15 (vendor and product id in hex)",
    "tcp://HOST[:PORT]               e.g. tcp://192.168.1.50:9100 (port 9100 if left out)",
    "serial://DEVICE[?baudrate=N]    e.g. serial:///dev/ttyUSB0?baudrate=19200",
    "file://PATH                     e.g. file:///dev/usb/lp0",
    "cups://QUEUE                    e.g. cups://Kiosk_Printer",
    "dummy://                        keeps the bytes in memory (demo and tests)",
)
OPTIONS_HELP = (
    "Options, after '?', joined with '&': profile=NAME (python-escpos printer profile, "
    "e.g. TM-T88V), paper=58|80, timeout=SECONDS; serial: baudrate=N; usb: in_ep=0x82, "
    "out_ep=0x01; tcp, serial, usb: status=on|off (DLE EOT status queries, default on)."
)

COMMON_OPTIONS = ("profile", "paper", "timeout")
KIND_OPTIONS = {
    "usb": ("in_ep", "out_ep", "status"),
    "tcp": ("status",),
    "serial": ("baudrate", "status"),
    "file": (),
    "cups": (),
    "dummy": (),
}
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)
DEFAULT_PORT = 9100
DEFAULT_BAUDRATE = 9600
DEFAULT_TIMEOUT_S = {"tcp": 3.0}  # network: short; the others 5 s
FALLBACK_TIMEOUT_S = 5.0
MAX_TIMEOUT_S = 120.0

# The optional python-escpos extras: module to import, PyPI package, extra name.
EXTRAS = {
    "usb": ("usb.core", "pyusb", "usb"),
    "serial": ("serial", "pyserial", "serial"),
    "cups": ("cups", "pycups", "cups"),
}

DLE_EOT = b"\x10\x04"
WRITE_CHUNK = 4096

# Why a ticket could not be printed (PrintError.reason, PrinterStatus.reason).
REASONS = (
    "offline",  # no printer there: connection refused, device unplugged, reports offline
    "paper_out",
    "cover_open",
    "timeout",  # no answer within the time-out
    "disconnected",  # the connection broke in the middle of a ticket
    "permission",  # the device exists but may not be opened (USB: see the udev rule)
    "dependency",  # the pip extra for usb/serial/cups is not installed
    "font",  # no font for text that no code page holds
    "error",  # the printer reports an error (autocutter, head...) or anything else
)


class PrinterUrlError(ValueError):
    """A printer address that is not one of :data:`ACCEPTED_FORMS`."""

    def __init__(self, url: object, problem: str) -> None:
        self.url = url
        self.problem = problem
        forms = "\n".join(f"  {form}" for form in ACCEPTED_FORMS)
        super().__init__(
            f"{problem} in printer address {url!r}.\nAccepted forms:\n{forms}\n{OPTIONS_HELP}"
        )


class PrintError(Exception):
    """A ticket was not printed (or not for sure). ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class PrinterSpec:
    """A parsed printer address (see :func:`parse_printer_url`)."""

    kind: str
    url: str
    host: str | None = None
    port: int | None = None
    vendor_id: int | None = None
    product_id: int | None = None
    in_ep: int | None = None
    out_ep: int | None = None
    device: str | None = None  # serial device or file path
    baudrate: int | None = None
    queue: str | None = None
    profile: str | None = None
    paper: int | None = None  # None: the ticket's paper_mm
    timeout: float | None = None  # None: the kind's default
    status_queries: bool = False  # ask DLE EOT status (tcp, serial, usb unless status=off)

    @property
    def effective_timeout(self) -> float:
        if self.timeout is not None:
            return self.timeout
        return DEFAULT_TIMEOUT_S.get(self.kind, FALLBACK_TIMEOUT_S)

    @property
    def label(self) -> str:
        """A short human name of the printer, for messages."""
        if self.kind == "tcp":
            host = f"[{self.host}]" if self.host and ":" in self.host else self.host
            return f"the printer at {host}:{self.port}"
        if self.kind == "usb":
            return f"the USB printer {self.vendor_id:04x}:{self.product_id:04x}"
        if self.kind in ("serial", "file"):
            return f"the printer on {self.device}"
        if self.kind == "cups":
            return f"the CUPS queue {self.queue}"
        return "the dummy printer"


_USB_RE = re.compile(r"^(?:0x)?([0-9a-fA-F]{1,4}):(?:0x)?([0-9a-fA-F]{1,4})$")
_HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?$")
_CUPS_RE = re.compile(r"^[^\s/\\?'\"#@]{1,127}$")
_WINDOWS_PORT_RE = re.compile(r"^COM[0-9]{1,3}$", re.IGNORECASE)
_TRUE = ("on", "true", "yes", "1")
_FALSE = ("off", "false", "no", "0")


def parse_printer_url(url: str) -> PrinterSpec:
    """Parse a printer address; raise :class:`PrinterUrlError` listing the accepted forms."""
    if not isinstance(url, str) or not url.strip():
        raise PrinterUrlError(url, "empty printer address")
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme:
        raise PrinterUrlError(url, "no kind of printer (like tcp://)")
    kind = scheme.lower()
    if kind not in KINDS:
        raise PrinterUrlError(url, f"unknown kind of printer {scheme!r}")
    if "#" in rest:
        raise PrinterUrlError(url, "unexpected '#'")
    target, _, query = rest.partition("?")
    params = _parse_query(url, query, COMMON_OPTIONS + KIND_OPTIONS[kind])

    fields: dict[str, Any] = {}
    if kind == "usb":
        match = _USB_RE.match(target.rstrip("/"))
        if not match:
            raise PrinterUrlError(url, "usb:// needs VID:PID in hex, like usb://04b8:0e15")
        vendor, product = int(match.group(1), 16), int(match.group(2), 16)
        if not vendor or not product:
            raise PrinterUrlError(url, "USB vendor and product id must not be 0")
        fields.update(vendor_id=vendor, product_id=product)
        for name in ("in_ep", "out_ep"):
            if name in params:
                fields[name] = _int_option(url, name, params[name], 1, 255)
    elif kind == "tcp":
        fields.update(_parse_host(url, target))
    elif kind == "serial":
        device = target
        if not device.startswith("/") and not _WINDOWS_PORT_RE.match(device):
            raise PrinterUrlError(
                url, "serial:// needs a device path, like serial:///dev/ttyUSB0 (three slashes)"
            )
        fields["device"] = device
        fields["baudrate"] = DEFAULT_BAUDRATE
        if "baudrate" in params:
            baud = _int_option(url, "baudrate", params["baudrate"], 1, 10_000_000)
            if baud not in BAUDRATES:
                rates = ", ".join(str(b) for b in BAUDRATES)
                raise PrinterUrlError(url, f"baudrate {baud} is not one of {rates}")
            fields["baudrate"] = baud
    elif kind == "file":
        if not target.startswith("/") or target == "/":
            raise PrinterUrlError(
                url, "file:// needs an absolute path, like file:///dev/usb/lp0 (three slashes)"
            )
        fields["device"] = target
    elif kind == "cups":
        queue = target.rstrip("/")
        if not _CUPS_RE.match(queue):
            raise PrinterUrlError(url, "cups:// needs a CUPS queue name, like cups://Kiosk_Printer")
        fields["queue"] = queue
    elif target not in ("", "/"):  # dummy
        raise PrinterUrlError(url, "dummy:// takes no host or path")

    if "profile" in params:
        if params["profile"] not in profile_names():
            raise PrinterUrlError(
                url,
                f"unknown printer profile {params['profile']!r} "
                f"(python-escpos knows: {', '.join(profile_names())})",
            )
        fields["profile"] = params["profile"]
    if "paper" in params:
        if params["paper"] not in ("58", "80"):
            raise PrinterUrlError(url, f"paper must be 58 or 80 (mm), not {params['paper']!r}")
        fields["paper"] = int(params["paper"])
    if "timeout" in params:
        try:
            timeout = float(params["timeout"])
        except ValueError:
            timeout = -1.0
        if not 0 < timeout <= MAX_TIMEOUT_S:
            raise PrinterUrlError(
                url,
                f"timeout must be seconds between 0 and {MAX_TIMEOUT_S:g}, not "
                f"{params['timeout']!r}",
            )
        fields["timeout"] = timeout
    status = kind in ("tcp", "serial", "usb")
    if "status" in params:
        value = params["status"].lower()
        if value not in _TRUE + _FALSE:
            raise PrinterUrlError(url, f"status must be on or off, not {params['status']!r}")
        status = value in _TRUE
    return PrinterSpec(kind=kind, url=url, status_queries=status, **fields)


def _parse_query(url: str, query: str, allowed: tuple[str, ...]) -> dict[str, str]:
    if not query:
        return {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise PrinterUrlError(url, f"malformed options {query!r}") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key not in allowed:
            raise PrinterUrlError(
                url, f"unknown option {key!r} (this kind takes: {', '.join(allowed)})"
            )
        if key in params:
            raise PrinterUrlError(url, f"option {key!r} given twice")
        if not value:
            raise PrinterUrlError(url, f"option {key!r} has no value")
        params[key] = value
    return params


def _parse_host(url: str, target: str) -> dict[str, Any]:
    target = target.rstrip("/")
    if not target or "@" in target or "/" in target:
        raise PrinterUrlError(url, "tcp:// needs a host and an optional port, like tcp://host:9100")
    try:
        parts = urlsplit("//" + target)
        port = parts.port
    except ValueError:
        raise PrinterUrlError(url, "the port must be a number from 1 to 65535") from None
    host = parts.hostname or ""
    if not host:
        raise PrinterUrlError(url, "tcp:// needs a host, like tcp://192.168.1.50")
    if ":" not in host and not _HOST_RE.match(host):
        raise PrinterUrlError(url, f"{host!r} is not a host name or IP address")
    if port == 0:
        raise PrinterUrlError(url, "the port must be a number from 1 to 65535")
    return {"host": host, "port": port or DEFAULT_PORT}


def _int_option(url: str, name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value, 0)
    except ValueError:
        raise PrinterUrlError(url, f"{name} must be a number, not {value!r}") from None
    if not low <= number <= high:
        raise PrinterUrlError(url, f"{name} must be between {low} and {high}")
    return number


# Health


@dataclass(frozen=True)
class PrinterStatus:
    """What a printer says about itself (or that it says nothing).

    ``online`` is False when the printer cannot be reached, does not answer, or says it is
    offline for no reason it names; a printer that answers "out of paper" or "cover open" is
    online, with ``paper == "out"`` or ``cover_open``, and not :attr:`ok`. ``paper`` is
    ``"ok"``, ``"low"``, ``"out"`` or ``"unknown"`` (no answer, or a printer that cannot tell);
    ``cover_open`` is None when unknown. ``error`` is a message when the printer could not be
    asked or reports an error; ``reason`` is one of :data:`REASONS` when it cannot print now.
    """

    online: bool
    paper: str = "unknown"
    cover_open: bool | None = None
    error: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Can print now (paper low still prints)."""
        return (
            self.online and self.paper != "out" and self.cover_open is not True and not self.error
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "online": self.online,
            "paper": self.paper,
            "cover_open": self.cover_open,
            "error": self.error,
            "reason": self.reason,
            "ok": self.ok,
        }


def _valid_status_byte(byte: int) -> bool:
    """DLE EOT answers have bits 1 and 4 set and bits 0 and 7 clear."""
    return byte & 0x93 == 0x12


def status_from_replies(
    printer: int, offline_cause: int | None, paper: int | None, error_cause: int | None = None
) -> PrinterStatus:
    """A :class:`PrinterStatus` from the answers to DLE EOT 1 (printer), 2 (offline cause),
    4 (roll paper sensor) and 3 (error cause); None where the printer did not answer."""
    offline = bool(printer & 0x08)
    cover_open = bool(offline_cause & 0x04) if offline_cause is not None else None
    stopped_no_paper = offline_cause is not None and bool(offline_cause & 0x20)
    has_error = offline_cause is not None and bool(offline_cause & 0x40)
    if paper is not None and paper & 0x60 or stopped_no_paper:
        paper_state = "out"
    elif paper is not None and paper & 0x0C:
        paper_state = "low"
    elif paper is not None:
        paper_state = "ok"
    else:
        paper_state = "unknown"
    error = None
    if has_error:
        causes = []
        if error_cause is not None:
            if error_cause & 0x08:
                causes.append("autocutter error")
            if error_cause & 0x20:
                causes.append("unrecoverable error")
            if error_cause & 0x40:
                causes.append("auto-recoverable error (e.g. print head too hot)")
        error = "the printer reports an error" + (f": {', '.join(causes)}" if causes else "")
    if cover_open:
        reason = "cover_open"
    elif paper_state == "out":
        reason = "paper_out"
    elif has_error:
        reason = "error"
    elif offline:
        reason = "offline"
        error = "the printer reports it is offline"
    else:
        reason = None
    # "online": it answered and is not offline for a reason of its own (a printer also goes
    # offline when its paper runs out or its cover opens: those are reported as such).
    return PrinterStatus(
        online=reason != "offline",
        paper=paper_state,
        cover_open=cover_open,
        error=error,
        reason=reason,
    )


def _status_message(status: PrinterStatus, label: str) -> str:
    if status.reason == "cover_open":
        return f"{label}: the cover is open"
    if status.reason == "paper_out":
        return f"{label}: out of paper"
    return f"{label}: {status.error or 'not ready'}"


# Connections: one per ticket or status check.


class _Link:
    """An open connection to a printer for one job."""

    can_query = False

    def write(self, data: bytes) -> None:  # pragma: no cover - every link overrides it
        raise NotImplementedError

    def query(self, n: int) -> int | None:
        """Send DLE EOT n and return the status byte, or None when no answer came in time."""
        raise NotImplementedError

    def passive_status(self) -> PrinterStatus:
        """The status of a printer that is not asked with DLE EOT: reachable, paper unknown."""
        return PrinterStatus(online=True)

    def close(self, discard: bool = False) -> None:
        pass


class _NetworkLink(_Link):
    can_query = True

    def __init__(self, spec: PrinterSpec, profile: Any, timeout: float) -> None:
        from escpos.printer import Network

        self.spec = spec
        self.timeout = timeout
        self.printer = Network(spec.host, spec.port, timeout=timeout, profile=profile)
        try:
            self.printer.open()
        except DeviceNotFoundError as exc:
            cause = exc.__context__
            if isinstance(cause, TimeoutError):
                raise PrintError(
                    "timeout", f"{spec.label} did not accept a connection within {timeout:g} s"
                ) from None
            if isinstance(cause, ConnectionRefusedError):
                raise PrintError("offline", f"{spec.label} refused the connection") from None
            raise PrintError("offline", f"{spec.label} cannot be reached: {cause}") from None
        self.sock = self.printer.device

    def write(self, data: bytes) -> None:
        # In pieces, each with the time-out: a printer that takes data slowly (printing as it
        # goes) is fine, one that takes none for the time-out is not.
        try:
            for start in range(0, len(data), WRITE_CHUNK):
                self.sock.settimeout(self.timeout)
                self.sock.sendall(data[start : start + WRITE_CHUNK])
        except TimeoutError:
            raise PrintError(
                "timeout", f"{self.spec.label} took no data for {self.timeout:g} s"
            ) from None
        except OSError as exc:
            raise PrintError(
                "disconnected", f"{self.spec.label} dropped the connection: {exc}"
            ) from None

    def query(self, n: int) -> int | None:
        self.write(DLE_EOT + bytes([n]))
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(16)
            except TimeoutError:
                return None
            except OSError as exc:
                raise PrintError(
                    "disconnected", f"{self.spec.label} dropped the connection: {exc}"
                ) from None
            if not data:
                raise PrintError("disconnected", f"{self.spec.label} closed the connection")
            for byte in data:
                if _valid_status_byte(byte):
                    return byte

    def close(self, discard: bool = False) -> None:
        self.printer.close()


class _SerialLink(_Link):
    can_query = True

    def __init__(self, spec: PrinterSpec, profile: Any, timeout: float) -> None:
        import serial
        from escpos.printer import Serial

        self.serial_module = serial
        self.spec = spec
        self.timeout = timeout
        self.printer = Serial(
            devfile=spec.device, baudrate=spec.baudrate, timeout=timeout, profile=profile
        )
        try:
            self.printer.open()
        except DeviceNotFoundError as exc:
            cause = exc.__context__
            if getattr(cause, "errno", None) in (errno.EACCES, errno.EPERM):
                raise PrintError(
                    "permission",
                    f"{spec.label}: permission denied (add the user to the dialout group)",
                ) from None
            raise PrintError("offline", f"{spec.label} cannot be opened: {cause}") from None
        self.port = self.printer.device
        # Each piece may take its time on the wire (10 bits a byte) plus the time-out.
        self.port.write_timeout = timeout + WRITE_CHUNK * 10 / (spec.baudrate or 9600) * 1.5

    def write(self, data: bytes) -> None:
        try:
            for start in range(0, len(data), WRITE_CHUNK):
                self.port.write(data[start : start + WRITE_CHUNK])
        except self.serial_module.SerialTimeoutException:
            raise PrintError(
                "timeout", f"{self.spec.label} took no data for {self.timeout:g} s"
            ) from None
        except (self.serial_module.SerialException, OSError) as exc:
            raise PrintError("disconnected", f"{self.spec.label}: {exc}") from None

    def query(self, n: int) -> int | None:
        try:
            self.port.reset_input_buffer()
        except (self.serial_module.SerialException, OSError) as exc:
            raise PrintError("disconnected", f"{self.spec.label}: {exc}") from None
        self.write(DLE_EOT + bytes([n]))
        deadline = time.monotonic() + self.timeout
        while (remaining := deadline - time.monotonic()) > 0:
            self.port.timeout = remaining
            try:
                data = self.port.read(1)
            except (self.serial_module.SerialException, OSError) as exc:
                raise PrintError("disconnected", f"{self.spec.label}: {exc}") from None
            if not data:
                return None
            if _valid_status_byte(data[0]):
                return data[0]
        return None

    def close(self, discard: bool = False) -> None:
        try:
            if discard and self.port.is_open:
                self.port.reset_output_buffer()
            self.printer.close()
        except (self.serial_module.SerialException, OSError):
            log.debug("closing %s failed", self.spec.label, exc_info=True)


class _UsbLink(_Link):
    can_query = True

    def __init__(self, spec: PrinterSpec, profile: Any, timeout: float) -> None:
        import usb.core
        from escpos.printer import Usb

        self.usb = usb
        self.spec = spec
        self.timeout_ms = max(1, int(timeout * 1000))
        kwargs = {}
        if spec.in_ep is not None:
            kwargs["in_ep"] = spec.in_ep
        if spec.out_ep is not None:
            kwargs["out_ep"] = spec.out_ep
        self.printer = Usb(
            spec.vendor_id, spec.product_id, timeout=self.timeout_ms, profile=profile, **kwargs
        )
        try:
            self.printer.open()
        except DeviceNotFoundError as exc:
            self._raise_open_error(exc.__context__)
        self.device = self.printer.device
        if spec.in_ep is None or spec.out_ep is None:
            self._find_endpoints()

    def _raise_open_error(self, cause: BaseException | None) -> None:
        if getattr(cause, "errno", None) in (errno.EACCES, errno.EPERM):
            raise PrintError(
                "permission",
                f"{self.spec.label}: access denied (install the udev rule, see docs/hardware.md)",
            ) from None
        raise PrintError(
            "offline", f"{self.spec.label} was not found (unplugged or switched off?)"
        ) from None

    def _find_endpoints(self) -> None:
        """Use the interface's bulk endpoints when the address does not name them."""
        util = importlib.import_module("usb.util")
        try:
            interface = self.device.get_active_configuration()[(0, 0)]
            for endpoint in interface:
                direction = util.endpoint_direction(endpoint.bEndpointAddress)
                if direction == util.ENDPOINT_OUT and self.spec.out_ep is None:
                    self.printer.out_ep = endpoint.bEndpointAddress
                elif direction == util.ENDPOINT_IN and self.spec.in_ep is None:
                    self.printer.in_ep = endpoint.bEndpointAddress
        except Exception:  # noqa: BLE001 - keep python-escpos's defaults
            log.debug("could not read the endpoints of %s", self.spec.label, exc_info=True)

    def _usb_error(self, exc: Exception) -> PrintError:
        if getattr(exc, "errno", None) in (errno.ETIMEDOUT,) or type(exc).__name__ == (
            "USBTimeoutError"
        ):
            return PrintError("timeout", f"{self.spec.label} did not answer in time")
        if getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM):
            return PrintError(
                "permission",
                f"{self.spec.label}: access denied (install the udev rule, see docs/hardware.md)",
            )
        return PrintError("disconnected", f"{self.spec.label}: {exc}")

    def write(self, data: bytes) -> None:
        try:
            for start in range(0, len(data), WRITE_CHUNK):
                chunk = data[start : start + WRITE_CHUNK]
                self.device.write(self.printer.out_ep, chunk, self.timeout_ms)
        except self.usb.core.USBError as exc:
            raise self._usb_error(exc) from None

    def query(self, n: int) -> int | None:
        try:
            self.device.write(self.printer.out_ep, DLE_EOT + bytes([n]), self.timeout_ms)
        except self.usb.core.USBError as exc:
            raise self._usb_error(exc) from None
        try:
            data = bytes(self.device.read(self.printer.in_ep, 16, self.timeout_ms))
        except self.usb.core.USBError as exc:
            error = self._usb_error(exc)
            if error.reason == "timeout":
                return None
            raise error from None
        return next((byte for byte in data if _valid_status_byte(byte)), None)

    def close(self, discard: bool = False) -> None:
        try:
            self.printer.close()
        except Exception:  # noqa: BLE001 - the device may be gone already
            log.debug("closing %s failed", self.spec.label, exc_info=True)


class _FileLink(_Link):
    """A device file (``/dev/usb/lp0``) written without blocking, with a time-out."""

    def __init__(self, spec: PrinterSpec, timeout: float) -> None:
        self.spec = spec
        self.timeout = timeout
        path = spec.device or ""
        flags = os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        if not path.startswith("/dev/"):
            flags |= os.O_CREAT  # a plain file (tests, previews); never create device nodes
        try:
            self.fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise _file_error(spec, exc) from None

    def write(self, data: bytes) -> None:
        """Write it all; PrintError("timeout") when the device takes nothing for the time-out."""
        view = memoryview(data)
        deadline = time.monotonic() + self.timeout
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PrintError(
                    "timeout", f"{self.spec.label} took no data for {self.timeout:g} s"
                )
            _, ready, _ = select.select([], [self.fd], [], remaining)
            if not ready:
                continue
            try:
                written = os.write(self.fd, view[:WRITE_CHUNK])
            except BlockingIOError:
                continue
            except OSError as exc:
                raise PrintError("disconnected", f"{self.spec.label}: {exc.strerror}") from None
            view = view[written:]
            deadline = time.monotonic() + self.timeout

    def close(self, discard: bool = False) -> None:
        try:
            os.close(self.fd)
        except OSError:
            log.debug("closing %s failed", self.spec.label, exc_info=True)


def _file_error(spec: PrinterSpec, exc: OSError) -> PrintError:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PrintError(
            "permission", f"{spec.label}: permission denied (add the user to the lp group)"
        )
    if exc.errno in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return PrintError("offline", f"{spec.label}: no such device (unplugged or switched off?)")
    return PrintError("offline", f"{spec.label}: {exc.strerror}")


class _CupsLink(_Link):
    """A raw job through CUPS: the job is sent when the link is closed."""

    def __init__(self, spec: PrinterSpec, profile: Any) -> None:
        from escpos.printer import CupsPrinter

        self.spec = spec
        self.printer = CupsPrinter(printer_name=spec.queue, profile=profile)
        try:
            self.printer.open(job_name="novbe-ticket")
        except DeviceNotFoundError as exc:
            raise PrintError(
                "offline", f"{spec.label} is not available: {exc.__context__ or exc}"
            ) from None

    def write(self, data: bytes) -> None:
        self.printer._raw(data)

    def passive_status(self) -> PrinterStatus:
        info = self.printer.printers.get(self.spec.queue, {})
        reasons = " ".join(info.get("printer-state-reasons", []) or [])
        state = info.get("printer-state")
        cover = "cover-open" in reasons or "door-open" in reasons
        if "media-empty" in reasons or "media-needed" in reasons:
            paper = "out"
        elif "media-low" in reasons:
            paper = "low"
        else:
            paper = "unknown"
        online = state in (3, 4) and "offline" not in reasons
        if cover:
            reason = "cover_open"
        elif paper == "out":
            reason = "paper_out"
        elif not online:
            reason = "offline"
        else:
            reason = None
        return PrinterStatus(
            online=online,
            paper=paper,
            cover_open=True if cover else None,
            error="the CUPS queue is stopped" if state == 5 else None,
            reason=reason,
        )

    def close(self, discard: bool = False) -> None:
        try:
            if discard:
                self.printer.pending_job = False
            self.printer.close()
        except Exception as exc:  # noqa: BLE001 - pycups raises its own IPPError
            raise PrintError("error", f"{self.spec.label}: {exc}") from None


T = TypeVar("T")


def _run_with_deadline(fn: Callable[[], T], budget: float, label: str) -> T:
    """Run ``fn`` in a worker thread; PrintError("timeout") if it is not done in ``budget`` s.

    The per-step time-outs normally fire first; this is the backstop for drivers that block.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    worker = threading.Thread(target=target, name="novbe-printer-io", daemon=True)
    worker.start()
    worker.join(budget)
    if worker.is_alive():
        raise PrintError("timeout", f"{label} did not finish within {budget:.1f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def require_driver(kind: str) -> None:
    """Raise PrintError("dependency") naming the pip extra when ``kind`` needs one missing."""
    if kind not in EXTRAS:
        return
    module, package, extra = EXTRAS[kind]
    try:
        importlib.import_module(module)
    except ImportError:
        hint = (
            " (pycups builds against libcups: apt-get install libcups2-dev)"
            if kind == "cups"
            else ""
        )
        raise PrintError(
            "dependency",
            f"{kind}:// printers need {package}: pip install 'python-escpos[{extra}]'{hint}",
        ) from None


class TicketPrinter:
    """One configured printer: prints tickets and reports its health.

    ``spec_or_url`` is a :class:`PrinterSpec` or an address (see :data:`ACCEPTED_FORMS`);
    ``timeout`` (seconds per step) overrides the address's ``timeout=``. The paper width is the
    address's ``paper=`` when given, else the ticket's ``paper_mm``. Raises
    :class:`PrinterUrlError` for a bad address and PrintError("dependency") when the pip extra
    for a usb, serial or cups printer is missing.
    """

    def __init__(self, spec_or_url: PrinterSpec | str, *, timeout: float | None = None) -> None:
        if isinstance(spec_or_url, PrinterSpec):
            self.spec = spec_or_url
        else:
            self.spec = parse_printer_url(spec_or_url)
        self.timeout: float = timeout if timeout is not None else self.spec.effective_timeout
        require_driver(self.spec.kind)
        self.last_status: PrinterStatus | None = None
        self._renderers: dict[int, TicketRenderer] = {}
        self._lock = threading.Lock()
        self._dummy_output: list[bytes] = []

    def __repr__(self) -> str:
        return f"TicketPrinter({self.spec.url!r})"

    # Rendering

    def renderer(self, paper_mm: int) -> TicketRenderer:
        paper = self.spec.paper or paper_mm
        if paper not in self._renderers:
            self._renderers[paper] = TicketRenderer(self.spec.profile, paper)
        return self._renderers[paper]

    def render(self, ticket: TicketPrint) -> bytes:
        """The ESC/POS bytes of ``ticket`` for this printer (profile and paper)."""
        try:
            return self.renderer(ticket.paper_mm).render(ticket)
        except FontNotFoundError as exc:
            raise PrintError("font", str(exc)) from None

    @property
    def output(self) -> bytes:
        """Everything a ``dummy://`` printer was sent."""
        if self.spec.kind != "dummy":
            raise AttributeError("only dummy:// printers keep their output")
        return b"".join(self._dummy_output)

    def clear_output(self) -> None:
        self._dummy_output.clear()

    # Printing

    def print_ticket(self, ticket: TicketPrint) -> None:
        """Print one ticket, or raise :class:`PrintError` saying why it was not printed."""
        self.send(self.render(ticket))

    def send(self, data: bytes) -> None:
        """Send ready ESC/POS bytes as one job (open, status, write, status, close)."""
        with self._lock:
            if self.spec.kind == "dummy":
                self._dummy_output.append(bytes(data))
                self.last_status = PrinterStatus(online=True, paper="ok", cover_open=False)
                return
            budget = 4 * self.timeout + self._transfer_s(len(data)) + 1
            self.last_status = _run_with_deadline(
                lambda: self._job(data), budget, f"printing on {self.spec.label}"
            )

    def _transfer_s(self, size: int) -> float:
        """Time a job of ``size`` bytes may take on the wire, on top of the time-out."""
        if self.spec.kind == "serial":
            return size * 10 / (self.spec.baudrate or DEFAULT_BAUDRATE) * 1.5
        return size / 2_000  # a printer takes data about as fast as it prints

    def _open(self) -> _Link:
        profile = self.renderer(80).profile
        kind = self.spec.kind
        if kind == "tcp":
            return _NetworkLink(self.spec, profile, self.timeout)
        if kind == "serial":
            return _SerialLink(self.spec, profile, self.timeout)
        if kind == "usb":
            return _UsbLink(self.spec, profile, self.timeout)
        if kind == "file":
            return _FileLink(self.spec, self.timeout)
        if kind == "cups":
            return _CupsLink(self.spec, profile)
        raise PrintError("error", f"cannot open {kind}:// printers")  # pragma: no cover

    def _asks(self, link: _Link) -> bool:
        return link.can_query and self.spec.status_queries

    def _job(self, data: bytes) -> PrinterStatus:
        link = self._open()
        done = False
        try:
            if self._asks(link):
                before = self._read_status(link)
                if not before.ok:
                    raise PrintError(
                        before.reason or "offline", _status_message(before, self.spec.label)
                    )
            link.write(data)
            after = link.passive_status()
            if self._asks(link):
                after = self._read_status(link)
                if after.reason == "timeout":
                    raise PrintError(
                        "timeout", f"{self.spec.label} did not answer after the ticket was sent"
                    )
                if after.reason in ("paper_out", "cover_open"):
                    raise PrintError(
                        after.reason, _status_message(after, self.spec.label) + " (mid-ticket)"
                    )
            done = True
            return after
        finally:
            link.close(discard=not done)

    def _read_status(self, link: _Link) -> PrinterStatus:
        printer = link.query(1)
        if printer is None:
            return PrinterStatus(
                online=False,
                paper="unknown",
                cover_open=None,
                error=f"no answer within {self.timeout:g} s",
                reason="timeout",
            )
        offline_cause = link.query(2)
        paper = link.query(4)
        error_cause = None
        if offline_cause is not None and offline_cause & 0x40:
            error_cause = link.query(3)
        return status_from_replies(printer, offline_cause, paper, error_cause)

    # Health

    def status(self) -> PrinterStatus:
        """Ask the printer how it is. Never raises for printer trouble: see ``.error``."""
        if self.spec.kind == "dummy":
            return PrinterStatus(online=True, paper="ok", cover_open=False)
        if self.spec.kind == "file":
            return self._file_status()
        with self._lock:
            try:
                status = _run_with_deadline(
                    self._status_job, 5 * self.timeout + 1, f"asking {self.spec.label}"
                )
            except PrintError as exc:
                status = PrinterStatus(
                    online=False, paper="unknown", error=exc.message, reason=exc.reason
                )
        self.last_status = status
        return status

    def _status_job(self) -> PrinterStatus:
        link = self._open()
        try:
            return self._read_status(link) if self._asks(link) else link.passive_status()
        finally:
            link.close(discard=True)

    def _file_status(self) -> PrinterStatus:
        path = self.spec.device or ""
        if path.startswith("/dev/") and not os.path.exists(path):
            error = _file_error(self.spec, OSError(errno.ENOENT, "no such file"))
            return PrinterStatus(online=False, error=error.message, reason=error.reason)
        target = path if os.path.exists(path) else os.path.dirname(path)
        if not os.access(target, os.W_OK):
            error = _file_error(self.spec, OSError(errno.EACCES, "permission denied"))
            return PrinterStatus(online=False, error=error.message, reason=error.reason)
        return PrinterStatus(online=True)


def sample_ticket(language: str = "en", paper_mm: int = 80) -> TicketPrint:
    """A ticket to try a printer with (``python -m hardware.printer URL --sample az``)."""
    from datetime import UTC, datetime

    names = {
        "az": ("DOST mərkəzi №3", "Yeni pensiya"),
        "ru": ("Центр DOST №3", "Новая пенсия"),
        "en": ("DOST center No. 3", "New pension"),
    }
    center, service = names.get(language, names["en"])
    return TicketPrint(
        center_name=center,
        number="A012",
        service_name=service,
        language=language,
        issued_at=datetime.now(UTC),
        timezone="Asia/Baku",
        phone_url="http://127.0.0.1:5000/t/sample",
        position=4,
        estimated_wait_s=780,
        paper_mm=paper_mm,
    )


def main(argv: list[str] | None = None) -> int:
    """Try a printer: ``python -m hardware.printer tcp://192.168.1.50 [--sample az]``."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m hardware.printer",
        description="Ask a ticket printer for its status, or print a sample ticket.",
        epilog="Accepted forms:\n  " + "\n  ".join(ACCEPTED_FORMS) + "\n" + OPTIONS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", help="the printer's address")
    parser.add_argument("--sample", choices=("az", "ru", "en"), help="print a sample ticket")
    parser.add_argument("--paper", type=int, choices=(58, 80), default=80)
    parser.add_argument("--timeout", type=float, help="seconds per step")
    args = parser.parse_args(argv)
    try:
        printer = TicketPrinter(args.url, timeout=args.timeout)
        if args.sample:
            printer.print_ticket(sample_ticket(args.sample, args.paper))
            print(f"printed a sample ticket ({args.sample}, {args.paper} mm)")
    except PrinterUrlError as exc:
        print(exc, file=sys.stderr)
        return 2
    except PrintError as exc:
        print(f"not printed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(printer.status().as_dict(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
