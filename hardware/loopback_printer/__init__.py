"""The loopback printer: a stand-in ESC/POS thermal printer that decodes the bytes it is
sent and answers status queries, for the tests (no real printer is attached there) and
for the demo (``novbe loopback-printer``).

One module a job:

* :mod:`~hardware.loopback_printer.decoder`: ESC/POS read as a printer reads it
  (:class:`EscPosDecoder`, :func:`decode` for bytes already captured);
* :mod:`~hardware.loopback_printer.paper`: what came out (:class:`Job`, :class:`TextLine`,
  :class:`RasterImage`, :class:`QrCode`);
* :mod:`~hardware.loopback_printer.faults`: the faults it acts out and the DLE EOT answers
  that report them (:class:`PrinterState`);
* :mod:`~hardware.loopback_printer.servers`: :class:`LoopbackPrinter` on 127.0.0.1 (TCP)
  and :class:`LoopbackSerialPrinter` on a pseudo-terminal;
* :mod:`~hardware.loopback_printer.ticket_files`: ``novbe loopback-printer``, which writes
  each ticket to a folder as a transcript and a picture (:func:`serve`,
  :class:`TicketFolder`, :func:`preview`).

In a test::

    with LoopbackPrinter(paper_out=True) as printer:
        TicketPrinter(printer.url).status().reason   # "paper_out"
"""

from __future__ import annotations

from .decoder import EPSON_CODE_PAGES, Decoded, EscPosDecoder, decode
from .faults import PrinterState
from .paper import Job, QrCode, RasterImage, TextLine
from .servers import LoopbackPrinter, LoopbackSerialPrinter
from .ticket_files import TicketFolder, preview, serve

__all__ = [
    "EPSON_CODE_PAGES",
    "Decoded",
    "EscPosDecoder",
    "Job",
    "LoopbackPrinter",
    "LoopbackSerialPrinter",
    "PrinterState",
    "QrCode",
    "RasterImage",
    "TextLine",
    "TicketFolder",
    "decode",
    "preview",
    "serve",
]
