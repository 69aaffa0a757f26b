"""What a printer says about itself, and why a ticket was not printed.

ESC/POS printers answer real-time status queries (``DLE EOT n``) with one byte each:
1 the printer, 2 the cause of going offline, 3 the cause of an error, 4 the paper roll
sensor. :func:`read_status` asks them over an open connection and
:func:`status_from_replies` reads the bits as the ESC/POS reference defines them.

Invariants:

* No answer is not "no paper": a printer that does not answer DLE EOT 1 within the
  time-out is ``online=False, paper="unknown", reason="timeout"``. ``paper`` is "out"
  only when the printer itself says so.
* A printer that answers "out of paper" or "cover open" is online (it answered) but not
  :attr:`PrinterStatus.ok`; it goes offline for that reason, and the reason is reported,
  not "offline".
* ``reason`` (of :class:`PrinterStatus` and :class:`PrintError`) is always one of
  :data:`REASONS`, a code the server stores and the kiosk translates; ``error`` and
  ``message`` are for people and may name the printer's address.
* Only bytes shaped like a status answer (bits 1 and 4 set, 0 and 7 clear) are taken as
  one: anything else a printer sends back is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DLE_EOT = b"\x10\x04"

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


class PrintError(Exception):
    """A ticket was not printed (or not for sure). ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


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


def valid_status_byte(byte: int) -> bool:
    """DLE EOT answers have bits 1 and 4 set and bits 0 and 7 clear."""
    return byte & 0x93 == 0x12


def read_status(query: Callable[[int], int | None], timeout: float) -> PrinterStatus:
    """Ask DLE EOT 1, 2, 4 (and 3 when the printer reports an error) through ``query``,
    which sends DLE EOT n and returns the answer byte, or None after ``timeout`` s."""
    printer = query(1)
    if printer is None:
        return PrinterStatus(
            online=False,
            paper="unknown",
            cover_open=None,
            error=f"no answer within {timeout:g} s",
            reason="timeout",
        )
    offline_cause = query(2)
    paper = query(4)
    error_cause = None
    if offline_cause is not None and offline_cause & 0x40:
        error_cause = query(3)
    return status_from_replies(printer, offline_cause, paper, error_cause)


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


def status_message(status: PrinterStatus, label: str) -> str:
    """Why ``label`` (a printer) cannot print, in words."""
    if status.reason == "cover_open":
        return f"{label}: the cover is open"
    if status.reason == "paper_out":
        return f"{label}: out of paper"
    return f"{label}: {status.error or 'not ready'}"
