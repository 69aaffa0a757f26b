"""One configured printer: :class:`TicketPrinter` prints tickets and reports its health.

Invariants:

* One job at a time per printer (a lock), and every job opens its own connection and closes
  it again (see :mod:`hardware.printer.transports`).
* Where the printer answers DLE EOT (tcp, serial, usb, unless ``status=off``) it is asked
  before the ticket, so a printer out of paper or with its cover open is reported instead of
  swallowing the ticket, and after it, so a connection dropped mid-ticket or paper running
  out is noticed. A ticket that may not be on paper raises :class:`PrintError`.
* A job cannot hang: on top of each step's time-out, a watchdog bounds the whole job
  (4 time-outs plus the time the bytes take on the wire).
* :meth:`TicketPrinter.status` never raises for printer trouble: it returns a
  :class:`PrinterStatus` whose ``error`` and ``reason`` say what is wrong.
* ``dummy://`` keeps the bytes in memory (``output``) and is always ready.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..escpos_render import FontNotFoundError, TicketRenderer
from ..ticket import TicketPrint
from .addresses import DEFAULT_BAUDRATE, PrinterSpec, parse_printer_url
from .status import PrintError, PrinterStatus, read_status, status_message
from .transports import Link, open_link, require_driver
from .transports.device_file import file_status

T = TypeVar("T")


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

    def _open(self) -> Link:
        return open_link(self.spec, self.renderer(80).profile, self.timeout)

    def _asks(self, link: Link) -> bool:
        return link.can_query and self.spec.status_queries

    def _read_status(self, link: Link) -> PrinterStatus:
        return read_status(link.query, self.timeout)

    def _job(self, data: bytes) -> PrinterStatus:
        link = self._open()
        done = False
        try:
            if self._asks(link):
                before = self._read_status(link)
                if not before.ok:
                    raise PrintError(
                        before.reason or "offline", status_message(before, self.spec.label)
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
                        after.reason, status_message(after, self.spec.label) + " (mid-ticket)"
                    )
            done = True
            return after
        finally:
            link.close(discard=not done)

    # Health

    def status(self) -> PrinterStatus:
        """Ask the printer how it is. Never raises for printer trouble: see ``.error``."""
        if self.spec.kind == "dummy":
            return PrinterStatus(online=True, paper="ok", cover_open=False)
        if self.spec.kind == "file":
            return file_status(self.spec)
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
