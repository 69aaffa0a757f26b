"""Printer addresses: one string says which printer and how to reach it.

An address is ``KIND://TARGET[?OPTIONS]`` (see :data:`ACCEPTED_FORMS`), e.g.
``tcp://192.168.1.50:9100?profile=TM-T88V&paper=80``. :func:`parse_printer_url` turns it
into a :class:`PrinterSpec` or refuses it.

Invariants:

* An address is either parsed whole or refused with :class:`PrinterUrlError` (a
  ValueError), whose message names the problem and lists every accepted form and option:
  a mistyped setting shows its fix. Nothing is guessed or silently dropped: an unknown,
  repeated or empty option is refused, as is an option the kind does not take.
* ``PrinterSpec.url`` is the address as given (stripped of surrounding blanks).
* Parsing imports no driver: a ``usb://`` address parses without pyusb installed (the
  driver is required when a :class:`~hardware.printer.TicketPrinter` is made).
* DLE EOT status queries are on by default for tcp, serial and usb, the kinds that can
  answer them; ``status=off`` turns them off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..escpos_render import profile_names

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


class PrinterUrlError(ValueError):
    """A printer address that is not one of :data:`ACCEPTED_FORMS`."""

    def __init__(self, url: object, problem: str) -> None:
        self.url = url
        self.problem = problem
        forms = "\n".join(f"  {form}" for form in ACCEPTED_FORMS)
        super().__init__(
            f"{problem} in printer address {url!r}.\nAccepted forms:\n{forms}\n{OPTIONS_HELP}"
        )


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
    fields = _target_fields(url, kind, target, params)
    fields.update(_common_fields(url, params))
    status = kind in ("tcp", "serial", "usb")
    if "status" in params:
        value = params["status"].lower()
        if value not in _TRUE + _FALSE:
            raise PrinterUrlError(url, f"status must be on or off, not {params['status']!r}")
        status = value in _TRUE
    return PrinterSpec(kind=kind, url=url, status_queries=status, **fields)


def _target_fields(url: str, kind: str, target: str, params: dict[str, str]) -> dict[str, Any]:
    """The fields of the part between ``KIND://`` and ``?``, with the kind's own options."""
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
    return fields


def _common_fields(url: str, params: dict[str, str]) -> dict[str, Any]:
    """The options every kind takes: profile, paper, timeout."""
    fields: dict[str, Any] = {}
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
    return fields


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
