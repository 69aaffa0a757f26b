"""What every connection to a printer offers (see :mod:`hardware.printer.transports`)."""

from __future__ import annotations

import logging

from ..status import PrinterStatus

log = logging.getLogger("novbe.printer")

WRITE_CHUNK = 4096  # bytes per write: each piece gets the whole time-out


class Link:
    """An open connection to a printer for one job."""

    can_query = False  # answers DLE EOT status queries

    def write(self, data: bytes) -> None:  # pragma: no cover - every link overrides it
        raise NotImplementedError

    def query(self, n: int) -> int | None:
        """Send DLE EOT n and return the status byte, or None when no answer came in time."""
        raise NotImplementedError

    def passive_status(self) -> PrinterStatus:
        """The status of a printer that is not asked with DLE EOT: reachable, paper unknown."""
        return PrinterStatus(online=True)

    def close(self, discard: bool = False) -> None:
        """Close the connection; ``discard``: drop what was not sent yet (a failed job)."""
