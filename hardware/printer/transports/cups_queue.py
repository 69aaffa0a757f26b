"""``cups://``: a raw job through a CUPS queue (pycups); the job is sent when the link is
closed. CUPS is not asked DLE EOT: the status is the queue's state and reasons."""

from __future__ import annotations

from typing import Any

from escpos.exceptions import DeviceNotFoundError

from ..addresses import PrinterSpec
from ..status import PrintError, PrinterStatus
from .base import Link


class CupsLink(Link):
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
