"""The kiosk print agent: ``novbe kiosk-agent --server URL --token TOKEN --printer URL``.

It runs on the kiosk PC beside the kiosk's browser, connects to the server's live
channel as that kiosk (its device token, with ``agent: "printer"``), prints every
ticket the kiosk issues (``ticket.print``), answers each job with ``ticket.printed``
and reports the printer's health (``printer.status``) when it changes (the printer
is asked every ``--status-interval`` seconds and after each ticket), and once a
minute in any case.

Exactly once, across drops and restarts of either side:

* every job has a ``print_id``; the agent appends to a journal (``journal.jsonl`` in
  its state directory, :mod:`hardware.kiosk_journal`) *before* printing ("started")
  and after ("printed" or "failed"), flushed to disk each time;
* on every (re)connect the server's snapshot lists this kiosk's recent tickets still
  ``pending``. A job the journal says was printed is reported, not printed again; one
  that was started but never finished (the agent died mid-ticket) is reported failed
  ("interrupted"), since it may be half on paper: the kiosk shows the e-ticket
  rather than risk a second paper ticket;
* tickets issued while no agent was connected were e-tickets from the start and are
  never sent here later.

The connection retries forever with back-off (1 s doubling to ``--retry-max``), so
the agent outlives server restarts and network drops; run it as a service (see
docs/hardware.md, "Kiosk print agent").
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from .kiosk_journal import Journal, lock_state_dir
from .ticket import TicketPrint

log = logging.getLogger("novbe.kiosk_agent")

NAMESPACE = "/live"
DEFAULT_STATE_DIR = "~/.novbe-kiosk-agent"
STATUS_INTERVAL_S = 10.0  # how often the printer is asked how it is
STATUS_HEARTBEAT_S = 60.0  # report the status at least this often, changed or not
RETRY_MAX_S = 30.0


# ---- the job -------------------------------------------------------------------------


def ticket_from_job(job: dict) -> TicketPrint:
    """The :class:`TicketPrint` of a ``ticket.print`` job (see server/printing.py)."""
    return TicketPrint(
        center_name=str(job["center_name"]),
        number=str(job["number"]),
        service_name=str(job["service_name"]),
        language=str(job["language"]),
        issued_at=datetime.fromisoformat(job["issued_at"]),
        timezone=str(job["timezone"]),
        phone_url=str(job["phone_url"]),
        position=job.get("position"),
        estimated_wait_s=job.get("estimated_wait_s"),
        kind=str(job.get("kind") or "walk_in"),
        appointment_at=datetime.fromisoformat(job["appointment_at"])
        if job.get("appointment_at")
        else None,
    )


# ---- the agent -----------------------------------------------------------------------------


class RefusedError(RuntimeError):
    """The server refused this agent (a wrong token, or not a kiosk's)."""


class KioskAgent:
    """Connects to the server, prints the jobs it gets, reports outcomes and health.

    ``printer`` is a :class:`hardware.printer.TicketPrinter` or anything with
    ``print_ticket(TicketPrint)`` and ``status()``."""

    def __init__(
        self,
        server: str,
        token: str,
        printer: Any,
        journal: Journal,
        *,
        status_interval: float = STATUS_INTERVAL_S,
        heartbeat: float = STATUS_HEARTBEAT_S,
        retry_max: float = RETRY_MAX_S,
    ) -> None:
        import socketio

        self.server = server.rstrip("/")
        self.token = token
        self.printer = printer
        self.journal = journal
        self.status_interval = status_interval
        self.heartbeat = heartbeat
        self.retry_max = retry_max
        self.sio = socketio.Client(
            reconnection=True,
            reconnection_attempts=0,  # forever
            reconnection_delay=1,
            reconnection_delay_max=retry_max,
            randomization_factor=0.5,
        )
        self._jobs: queue.Queue[dict | None] = queue.Queue()
        self._queued: set[str] = set()  # print ids waiting or printing
        self._queued_lock = threading.Lock()
        self._unacked: dict[str, dict] = {}  # print id -> report the server has not confirmed
        self._sent_at: dict[str, float] = {}  # print id -> when its report was last sent
        self._stop = threading.Event()
        self._status: dict | None = None  # the printer's health, as last read
        self._status_sent: tuple[dict | None, float] = (None, 0.0)
        self._refusal: str | None = None
        self._register()

    # -- the connection

    def _register(self) -> None:
        on = self.sio.on
        on("connect", self._on_connect, namespace=NAMESPACE)
        on("connect_error", self._on_connect_error, namespace=NAMESPACE)
        on("disconnect", self._on_disconnect, namespace=NAMESPACE)
        on("snapshot", self._on_snapshot, namespace=NAMESPACE)
        on("ticket.print", self._on_job, namespace=NAMESPACE)

    def _auth(self) -> dict:
        # Called at each (re)connect: the printer's last known health goes along, so
        # the server never judges this kiosk's printer by an old report.
        auth = {"token": self.token, "agent": "printer", "base_url": self.server}
        if self._status is not None:
            auth["printer"] = self._status
        return auth

    def _on_connect(self) -> None:
        self._refusal = None
        log.info("connected to %s", self.server)
        # The snapshot comes before the server's connect packet, so a report made while
        # handling it may have found the namespace not yet up: send it now.
        self._resend_unacked()

    def _on_connect_error(self, data: Any = None) -> None:
        # Called for an unreachable server too; only the server's own refusal carries
        # {"message": ...}.
        if isinstance(data, dict) and data.get("message"):
            self._refusal = str(data["message"])
            log.error("the server refused this agent: %s", self._refusal)

    def _on_disconnect(self, reason: Any = None) -> None:
        if not self._stop.is_set():
            log.warning("connection to %s lost (%s); reconnecting", self.server, reason or "?")

    def _on_snapshot(self, snapshot: dict) -> None:
        pending = snapshot.get("pending") or []
        log.info("kiosk %s: %d ticket(s) waiting for paper", snapshot.get("device"), len(pending))
        for job in pending:
            self.enqueue(job)
        # The server forgets nothing we sent it, but a report may have been lost on the
        # way down; send again what it has not confirmed, and our printer's health.
        self._resend_unacked()
        self._status_sent = (None, 0.0)
        threading.Thread(target=self.check_status, name="status-now", daemon=True).start()

    def connect(self) -> None:
        """Connect, retrying with back-off while the server cannot be reached. Raises
        :class:`RefusedError` if the server answers but refuses this agent."""
        delay = 1.0
        while not self._stop.is_set():
            try:
                self.sio.connect(
                    self.server,
                    auth=self._auth,
                    namespaces=[NAMESPACE],
                    # WebSocket only: several server processes share no long-polling sessions.
                    transports=["websocket"],
                    wait_timeout=10,
                )
                return
            except Exception as exc:  # socketio.exceptions.ConnectionError and the like
                if self._refusal:
                    raise RefusedError(self._refusal) from exc
                log.warning("cannot reach %s (%s); retrying in %.0f s", self.server, exc, delay)
            self._stop.wait(delay + random.uniform(0, delay / 2))
            delay = min(delay * 2, self.retry_max)

    # -- jobs

    def _on_job(self, job: dict) -> None:
        self.enqueue(job)

    def enqueue(self, job: dict) -> None:
        """Queue a job unless it is queued already (the snapshot and a live event may
        both bring one)."""
        if not isinstance(job, dict) or "print_id" not in job:
            log.error("ignoring a malformed print job: %r", job)
            return
        print_id = str(job["print_id"])
        with self._queued_lock:
            if print_id in self._queued:
                return
            self._queued.add(print_id)
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                self.process(job)
            except Exception:
                log.exception("print job %s failed unexpectedly", job.get("print_id"))
            finally:
                with self._queued_lock:
                    self._queued.discard(str(job["print_id"]))

    def process(self, job: dict) -> None:
        """Print ``job`` once: consult the journal, print, journal, report."""
        from .printer import PrintError

        print_id, number = str(job["print_id"]), job.get("number")
        done = self.journal.outcome(print_id)
        if done is None:
            self.journal.record(job, "started")
            try:
                self.printer.print_ticket(ticket_from_job(job))
            except PrintError as exc:
                ok, reason = False, exc.reason
                log.warning("could not print %s: %s", number, exc)
            except (KeyError, TypeError, ValueError) as exc:
                ok, reason = False, "bad_job"
                log.error("print job %s is malformed: %s", print_id, exc)
            else:
                ok, reason = True, None
                log.info("printed %s%s", number, " (reprint)" if job.get("reprint") else "")
            self.journal.record(job, "printed" if ok else "failed", reason)
            self.check_status()
        elif done["event"] == "printed":
            ok, reason = True, None
            log.info("%s was printed before; reporting it", number)
        elif done["event"] == "failed":
            ok, reason = False, done.get("reason") or "error"
            log.info("%s failed before (%s); reporting it", number, reason)
        else:
            # Started, never finished: perhaps half printed. Never risk a second copy.
            ok, reason = False, "interrupted"
            self.journal.record(job, "failed", reason)
            log.warning("%s was interrupted mid-print; the kiosk shows the e-ticket", number)
        self._send_report(
            {"ticket": job.get("ticket"), "print_id": print_id, "ok": ok, "reason": reason}
        )

    def _send_report(self, report: dict) -> None:
        print_id = report["print_id"]
        self._unacked[print_id] = report
        self._sent_at[print_id] = time.monotonic()

        def acked(answer: Any = None) -> None:
            if isinstance(answer, dict) and answer.get("ok"):
                self._unacked.pop(print_id, None)
                self._sent_at.pop(print_id, None)
            elif isinstance(answer, dict):
                self._unacked.pop(print_id, None)  # refused: sending again will not help
                self._sent_at.pop(print_id, None)
                log.error("the server refused the report on %s: %s", print_id, answer)

        if not self._online():
            return  # sent again after the reconnect
        try:
            self.sio.emit("ticket.printed", report, namespace=NAMESPACE, callback=acked)
        except Exception as exc:  # disconnected meanwhile
            log.warning("could not report %s now (%s); will on reconnect", print_id, exc)

    def _resend_unacked(self, older_than: float = 0.0) -> None:
        """Send again each report the server has not confirmed (sent at least
        ``older_than`` seconds ago): the server records a print result idempotently."""
        now = time.monotonic()
        for print_id, report in list(self._unacked.items()):
            if now - self._sent_at.get(print_id, 0.0) >= older_than:
                self._send_report(report)

    def _online(self) -> bool:
        # The namespace is up as soon as the server accepted us, which is before the
        # client's own `connected` flag is set (the snapshot may come in between).
        return NAMESPACE in self.sio.namespaces

    # -- health

    def check_status(self) -> None:
        """Ask the printer how it is; report it if it changed or is due."""
        try:
            status = self.printer.status().as_dict()
        except Exception:
            log.exception("could not read the printer's status")
            return
        report = {k: status.get(k) for k in ("online", "paper", "cover_open", "error", "reason")}
        previous, self._status = self._status, report
        if report != previous:
            log.info("printer: %s", _describe(report))
        last, sent_at = self._status_sent
        if report == last and time.monotonic() - sent_at < self.heartbeat:
            return
        if not self._online():
            return
        try:
            self.sio.emit("printer.status", report, namespace=NAMESPACE)
            self._status_sent = (report, time.monotonic())
        except Exception as exc:
            log.warning("could not report the printer's status (%s)", exc)

    def _watch_status(self) -> None:
        while not self._stop.wait(self.status_interval):
            self.check_status()
            # A report whose answer never came (lost with a dropped connection) is
            # sent again rather than waiting for the next reconnect.
            self._resend_unacked(older_than=self.status_interval)

    # -- running

    def run(self) -> None:
        """Connect and serve until :meth:`stop` (or SIGTERM/SIGINT via :func:`main`)."""
        worker = threading.Thread(target=self._work, name="printer", daemon=True)
        worker.start()
        self.check_status()  # before connecting: the connect carries it
        threading.Thread(target=self._watch_status, name="status", daemon=True).start()
        self.connect()
        self._stop.wait()
        self._jobs.put(None)
        with contextlib.suppress(Exception):
            self.sio.disconnect()
        worker.join(30)

    def stop(self) -> None:
        self._stop.set()


def _describe(status: dict) -> str:
    if not status.get("online"):
        return f"offline ({status.get('reason') or status.get('error') or 'no answer'})"
    parts = [f"paper {status.get('paper')}"]
    if status.get("cover_open"):
        parts.append("cover open")
    if status.get("error"):
        parts.append(str(status["error"]))
    return "online, " + ", ".join(parts)


def main(
    server: str,
    token: str,
    printer_url: str,
    state_dir: str = DEFAULT_STATE_DIR,
    *,
    retry_max: float = RETRY_MAX_S,
    status_interval: float = STATUS_INTERVAL_S,
) -> int:
    """Run the agent until SIGTERM or SIGINT; the exit code (2: refused or misconfigured)."""
    from .printer import PrintError, PrinterUrlError, TicketPrinter

    try:
        printer = TicketPrinter(printer_url)
    except (PrinterUrlError, PrintError) as exc:
        log.error("%s", exc)
        return 2
    directory = Path(state_dir).expanduser()
    try:
        lock = lock_state_dir(directory)
    except RuntimeError as exc:
        log.error("%s", exc)
        return 2
    journal = Journal(directory / "journal.jsonl")
    agent = KioskAgent(
        server, token, printer, journal, retry_max=retry_max, status_interval=status_interval
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: agent.stop())
    log.info(
        "kiosk agent: server %s, printer %s, journal %s", server, printer.spec.label, journal.path
    )
    try:
        agent.run()
    except RefusedError as exc:
        log.error("giving up: the server refused this agent (%s); check --token", exc)
        return 2
    finally:
        lock.close()
    log.info("kiosk agent stopped")
    return 0
