"""Thermal ticket printers on python-escpos: addresses, status, connections, printing.

A printer is configured by one address string (see :data:`ACCEPTED_FORMS`)::

    printer = TicketPrinter("tcp://192.168.1.50:9100?profile=TM-T88V&paper=80")
    printer.print_ticket(ticket)      # raises PrintError(reason) when it could not print
    printer.status()                  # PrinterStatus(online, paper, cover_open, error)

One module a job:

* :mod:`~hardware.printer.addresses`: parsing and checking addresses; a refusal lists the
  accepted forms.
* :mod:`~hardware.printer.status`: the DLE EOT status bits, :class:`PrinterStatus`, the
  reasons a ticket was not printed (:data:`REASONS`, :class:`PrintError`); "no answer" is a
  time-out, never "no paper".
* :mod:`~hardware.printer.transports`: one connection per job, one module per kind (tcp,
  serial, usb, file, cups), each step with a time-out.
* :mod:`~hardware.printer.ticket_printer`: :class:`TicketPrinter`, a ticket as one job with
  status asked before and after it.
* :mod:`~hardware.printer.tryout`: ``python -m hardware.printer URL [--sample az]``.

The ESC/POS bytes of a ticket come from :mod:`hardware.escpos_render`; what a ticket says
from :mod:`hardware.ticket`. USB, serial and CUPS need python-escpos's optional extras; they
are imported only when such a printer is used.
"""

from __future__ import annotations

from .addresses import (
    ACCEPTED_FORMS,
    BAUDRATES,
    COMMON_OPTIONS,
    DEFAULT_BAUDRATE,
    DEFAULT_PORT,
    DEFAULT_TIMEOUT_S,
    FALLBACK_TIMEOUT_S,
    KIND_OPTIONS,
    KINDS,
    MAX_TIMEOUT_S,
    OPTIONS_HELP,
    PrinterSpec,
    PrinterUrlError,
    parse_printer_url,
)
from .status import (
    DLE_EOT,
    REASONS,
    PrintError,
    PrinterStatus,
    read_status,
    status_from_replies,
)
from .ticket_printer import TicketPrinter
from .transports import EXTRAS, WRITE_CHUNK, require_driver
from .tryout import main, sample_ticket

__all__ = [
    "ACCEPTED_FORMS",
    "BAUDRATES",
    "COMMON_OPTIONS",
    "DEFAULT_BAUDRATE",
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT_S",
    "DLE_EOT",
    "EXTRAS",
    "FALLBACK_TIMEOUT_S",
    "KINDS",
    "KIND_OPTIONS",
    "MAX_TIMEOUT_S",
    "OPTIONS_HELP",
    "REASONS",
    "WRITE_CHUNK",
    "PrintError",
    "PrinterSpec",
    "PrinterStatus",
    "PrinterUrlError",
    "TicketPrinter",
    "main",
    "parse_printer_url",
    "read_status",
    "require_driver",
    "sample_ticket",
    "status_from_replies",
]
