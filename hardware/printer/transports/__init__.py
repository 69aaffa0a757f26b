"""Connections to printers, one module a kind: network (tcp), serial_port, usb_device,
device_file (file), cups_queue. ``dummy://`` has none: :class:`~hardware.printer.TicketPrinter`
keeps its bytes in memory.

Invariants:

* A link lives for one job (a ticket or a status check): opened, used, closed. A network
  printer kept open across jobs causes delays and errors.
* Every step a link takes has a time-out: opening, each write of :data:`WRITE_CHUNK` bytes,
  each status answer. A printer that takes data slowly is fine; one that takes none for
  the time-out is a PrintError("timeout").
* Whatever goes wrong comes out as :class:`~hardware.printer.PrintError` with a reason from
  :data:`~hardware.printer.REASONS`, never as a driver's own exception.
* A link that can (tcp, serial, usb) answers :meth:`Link.query` with a status byte or None
  (no answer in time); it never guesses.
* python-escpos's optional extras (pyusb, pyserial, pycups) are imported only when a link of
  that kind opens; :func:`require_driver` says which pip extra is missing.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..addresses import PrinterSpec
from ..status import PrintError
from .base import WRITE_CHUNK, Link
from .cups_queue import CupsLink
from .device_file import FileLink
from .network import NetworkLink
from .serial_port import SerialLink
from .usb_device import UsbLink

# The optional python-escpos extras: module to import, PyPI package, extra name.
EXTRAS = {
    "usb": ("usb.core", "pyusb", "usb"),
    "serial": ("serial", "pyserial", "serial"),
    "cups": ("cups", "pycups", "cups"),
}

__all__ = ["EXTRAS", "WRITE_CHUNK", "Link", "open_link", "require_driver"]


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


def open_link(spec: PrinterSpec, profile: Any, timeout: float) -> Link:
    """Open a connection to the printer of ``spec`` (PrintError when it cannot be opened)."""
    kind = spec.kind
    if kind == "tcp":
        return NetworkLink(spec, profile, timeout)
    if kind == "serial":
        return SerialLink(spec, profile, timeout)
    if kind == "usb":
        return UsbLink(spec, profile, timeout)
    if kind == "file":
        return FileLink(spec, timeout)
    if kind == "cups":
        return CupsLink(spec, profile)
    raise PrintError("error", f"cannot open {kind}:// printers")  # pragma: no cover
