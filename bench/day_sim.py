"""The simulated day's load generator: kiosks issue the planned visitors' tickets on a
compressed clock, and 20 counter desks call, serve and complete them, all through the
running server's HTTP API. One process, one thread per kiosk line and per desk: the
rates are low (tens of requests a second) and the server needs the other core."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import requests

from .day_plan import NO_SHOW_WAIT_MIN, OPEN_MIN, WALK_MIN, Visitor

IDLE_RECHECK_MIN = 10.0  # an idle desk calls anyway this often, in case its count drifted
BUSY_RETRY_MIN = 0.2  # another desk took the visitor it saw: look again this soon
MIN_PAUSE_S = 0.05  # real seconds: at very high compression, pauses would become a busy loop
ISSUE_ATTEMPTS = 3
IDLE_RECONNECT_S = 1.0  # below gunicorn's keep-alive timeout (2 s)


@dataclass
class Clock:
    """Simulated minutes since midnight <-> wall-clock seconds, ``factor`` times faster."""

    factor: float
    start: float  # time.time() at the opening (OPEN_MIN)

    def real(self, sim_min: float) -> float:
        return self.start + (sim_min - OPEN_MIN) * 60 / self.factor

    def sim(self, real: float) -> float:
        return OPEN_MIN + (real - self.start) * self.factor / 60

    def sleep(self, sim_min: float) -> None:
        time.sleep(max(sim_min, 0.0) * 60 / self.factor)

    def pause(self, sim_min: float) -> float:
        """Real seconds for a wait of ``sim_min`` that is no work, never a busy loop."""
        return max(sim_min * 60 / self.factor, MIN_PAUSE_S)

    def sleep_until(self, sim_min: float) -> None:
        delay = self.real(sim_min) - time.time()
        if delay > 0:
            time.sleep(delay)


@dataclass
class Desk:
    label: str
    counter_id: int
    token: str
    services: list[str]


@dataclass
class Record:
    """What the clients saw of one visitor's ticket; instants are the server's own
    timestamps (epoch seconds), estimates are the server's real seconds."""

    visitor: Visitor
    id: int | None = None
    number: str | None = None
    issued_at: float | None = None
    estimate_s: int | None = None
    position: int | None = None
    called_at: float | None = None
    counter: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    outcome: str | None = None  # done | no_show


@dataclass
class Stats:
    """Request latencies (seconds) and failures, by request kind."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def took(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)

    def failed(self, kind: str, what: str) -> None:
        with self.lock:
            key = f"{kind} {what}"
            self.errors[key] = self.errors.get(key, 0) + 1


class Connection:
    """A client's HTTP keep-alive connection that it drops itself after a pause.

    gunicorn closes a connection idle for 2 s (its ``keepalive``); a request sent on it
    just then is lost with a ConnectionError, and a desk pauses for seconds while it
    serves. Reconnecting after a pause is cheap on localhost and never loses a request."""

    def __init__(self) -> None:
        self.session = requests.Session()
        self.used = time.monotonic()

    def post(self, url: str, **kwargs) -> requests.Response:
        if time.monotonic() - self.used > IDLE_RECONNECT_S:
            self.session.close()  # its pooled connections; the next request opens one
        try:
            return self.session.post(url, timeout=30, **kwargs)
        finally:
            self.used = time.monotonic()


def epoch(iso: str | None) -> float | None:
    return None if iso is None else datetime.fromisoformat(iso).timestamp()


def error_code(response: requests.Response) -> str:
    """The API's error code (``{"error": {"code": ...}}``), or "" for another body."""
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


class Day:
    def __init__(
        self,
        base_url: str,
        center_code: str,
        kiosk_tokens: list[str],
        desks: list[Desk],
        plan: list[Visitor],
        clock: Clock,
        kiosk_lines: int,
        deadline_min: float,
    ) -> None:
        self.api = f"{base_url}/api/v1"
        self.center = center_code
        self.kiosk_tokens = kiosk_tokens
        self.desks = desks
        self.records = [Record(v) for v in plan]
        self.clock = clock
        self.kiosk_lines = kiosk_lines
        self.deadline_min = deadline_min  # desks stop here even with visitors left
        self.stats = Stats()
        # What a counter's screen shows live: how many wait for each service. The desks
        # wait on it instead of polling call-next, as a clerk watches the screen.
        self.cond = threading.Condition()
        self.waiting: dict[str, int] = {}
        self.by_id: dict[int, Record] = {}
        self.by_number: dict[str, Record] = {}
        self.kiosks_done = False
        self._next = 0

    # -- running

    def run(self) -> list[Record]:
        kiosks = [
            threading.Thread(target=self._kiosk, args=(i,), name=f"kiosk-{i}")
            for i in range(self.kiosk_lines)
        ]
        desks = [
            threading.Thread(target=self._desk, args=(d,), name=f"desk-{d.label}")
            for d in self.desks
        ]
        for t in kiosks + desks:
            t.start()
        for t in kiosks:
            t.join()
        with self.cond:
            self.kiosks_done = True
            self.cond.notify_all()
        for t in desks:
            t.join()
        return self.records

    def _post(
        self, session: Connection, kind: str, path: str, token: str, **kwargs
    ) -> requests.Response | None:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        t0 = time.perf_counter()
        try:
            response = session.post(f"{self.api}{path}", headers=headers, **kwargs)
        except requests.RequestException as exc:
            self.stats.failed(kind, type(exc).__name__)
            return None
        self.stats.took(kind, time.perf_counter() - t0)
        if response.status_code >= 300:
            self.stats.failed(kind, f"{response.status_code} {error_code(response)}".strip())
        return response

    # -- kiosks: each line takes the next visitor due and issues the ticket at that instant

    def _kiosk(self, line: int) -> None:
        session = Connection()
        token = self.kiosk_tokens[line % len(self.kiosk_tokens)]
        while True:
            with self.cond:
                index, self._next = self._next, self._next + 1
            if index >= len(self.records):
                return
            record = self.records[index]
            visitor = record.visitor
            self.clock.sleep_until(visitor.arrival_min)
            key = uuid.uuid4().hex  # the same key on a retry: never two tickets
            body = {
                "service": visitor.service,
                "language": visitor.language,
                "priority": visitor.priority,
            }
            for _ in range(ISSUE_ATTEMPTS):
                response = self._post(
                    session,
                    "issue",
                    f"/centers/{self.center}/tickets",
                    token,
                    json=body,
                    headers={"Idempotency-Key": key},
                )
                if response is not None and response.status_code in (200, 201):
                    self._issued(record, response.json())
                    break

    def _issued(self, record: Record, ticket: dict) -> None:
        record.id = ticket["id"]
        record.number = ticket["number"]
        record.issued_at = epoch(ticket["created_at"])
        record.estimate_s = ticket["estimated_wait_s"]
        record.position = ticket["position"]
        with self.cond:
            self.by_id[record.id] = record
            self.by_number[record.number] = record
            service = record.visitor.service
            self.waiting[service] = self.waiting.get(service, 0) + 1
            self.cond.notify_all()

    # -- counter desks

    def _desk(self, desk: Desk) -> None:
        session = Connection()
        while self.clock.sim(time.time()) < self.deadline_min:
            if not self._wait_for_work(desk):
                break
            response = self._post(
                session, "call_next", f"/counters/{desk.counter_id}/call-next", desk.token
            )
            if response is None:
                time.sleep(self.clock.pause(BUSY_RETRY_MIN))
                continue
            if response.status_code == 204:  # another desk was quicker
                time.sleep(self.clock.pause(BUSY_RETRY_MIN))
                continue
            if error_code(response) == "counter_busy":  # a lost answer left a visitor here
                record = self._record_by_number(response.json()["error"].get("details", {}))
                if record is None:
                    break  # cannot recover: stop this desk; its visitors go elsewhere
            elif response.status_code != 200:
                time.sleep(self.clock.pause(BUSY_RETRY_MIN))
                continue
            else:
                record = self._called(desk, response.json())
            self._serve(session, desk, record)
        state = {"state": "closed"}  # the end of the desk's day, as the clerk leaves
        self._post(session, "state", f"/counters/{desk.counter_id}/state", desk.token, json=state)

    def _wait_for_work(self, desk: Desk) -> bool:
        """Until someone waits for one of the desk's services; False once the day is over
        (kiosks done, nobody waiting)."""
        timeout = max(self.clock.pause(IDLE_RECHECK_MIN), 1.0)
        with self.cond:
            while True:
                if any(self.waiting.get(s, 0) > 0 for s in desk.services):
                    return True
                if self.kiosks_done and sum(self.waiting.values()) <= 0:
                    return False
                if not self.cond.wait(timeout):
                    return True  # nothing heard for a while: ask the server itself

    def _called(self, desk: Desk, ticket: dict) -> Record:
        with self.cond:
            # The kiosk's answer may still be on its way: the ticket was committed first.
            self.cond.wait_for(lambda: ticket["id"] in self.by_id, timeout=10)
            record = self.by_id.get(ticket["id"])
            service = ticket["service"]
            self.waiting[service] = self.waiting.get(service, 0) - 1
        if record is None:  # never heard back from the kiosk; keep what the call says
            record = Record(Visitor(-1, 0.0, ticket["service"], None, "az", 1.0, False))
        record.called_at = epoch(ticket["called_at"])
        record.counter = desk.label
        return record

    def _record_by_number(self, details: dict) -> Record | None:
        with self.cond:
            return self.by_number.get(details.get("ticket", ""))

    def _serve(self, session: Connection, desk: Desk, record: Record) -> None:
        """The visitor walks up and is served; or does not come, and after a recall is
        marked no-show."""
        path = f"/tickets/{record.id}"
        self.clock.sleep(WALK_MIN)
        if record.visitor.no_show:
            self.clock.sleep(NO_SHOW_WAIT_MIN)
            self._post(session, "recall", f"{path}/recall", desk.token)
            self.clock.sleep(NO_SHOW_WAIT_MIN)
            response = self._post(session, "no_show", f"{path}/no-show", desk.token)
            if response is not None and response.status_code == 200:
                record.outcome = "no_show"
            return
        response = self._post(session, "start", f"{path}/start", desk.token)
        if response is None or response.status_code != 200:
            return
        record.started_at = epoch(response.json()["started_at"])
        self.clock.sleep(record.visitor.service_min)
        response = self._post(session, "complete", f"{path}/complete", desk.token)
        if response is not None and response.status_code == 200:
            record.ended_at = epoch(response.json()["ended_at"])
            record.outcome = "done"
