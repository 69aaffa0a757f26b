"""The faults a loopback printer acts out, and the status bytes that report them.

:class:`PrinterState` is the simulated condition: ``paper_out``, ``paper_low``,
``cover_open``, ``cutter_error``. It answers ``DLE EOT n`` as the ESC/POS reference
specifies the bits (see :func:`hardware.printer.status_from_replies` for the reading
side), and a ticket sent while it cannot print is discarded, not printed. The faults of
the connection itself (``slow``, ``drop_after``, ``offline``) are acted out by the servers
in :mod:`hardware.loopback_printer.servers`.
"""

from __future__ import annotations

from dataclasses import dataclass


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
