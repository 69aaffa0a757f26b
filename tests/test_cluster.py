"""Several server processes that agree: three ``novbe serve`` processes on PostgreSQL with
the Redis message queue, behind nginx configured from deploy/nginx/novbe.conf
(tests/cluster.py), as docs/deploy.md installs them. Screens connect to different
processes (directly, or through nginx, which picks one); every one must see what
happens on any other. Then a process is killed with ``kill -9`` under load.

Needs PostgreSQL (NOVBE_TEST_POSTGRES_URL, which CI sets), Redis on 127.0.0.1:6379 and
Debian's nginx (``make nginx``).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select

from hardware.loopback_printer import LoopbackPrinter
from server import queue
from server.models import Center, Ticket, TicketEvent, utcnow

from . import factories
from .cluster import (
    SITE_CONFIG,
    Cluster,
    LiveClient,
    nginx_command,
    start_cluster,
    wait_ready,
)
from .live import LiveCenter, postgres_database
from .test_kiosk_agent import Agent, printed_numbers

# Never skipped: without the setting, this machine's PostgreSQL (as .ci/run sets it).
POSTGRES_URL = os.environ.get(
    "NOVBE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
# Whole installations started per module: outside the fast loop (CI runs every test).
pytestmark = [pytest.mark.slow, pytest.mark.e2e]

FOLLOW_S = 1.0  # every screen shows a call within this of the counter's answer


def _cluster(tmp_dir: Path) -> Iterator[Cluster]:
    with postgres_database(POSTGRES_URL) as url:
        cluster = start_cluster(tmp_dir, url)
        try:
            yield cluster
        finally:
            cluster.stop()
            print(cluster.logs()[-20_000:])  # shown when a test failed


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    yield from _cluster(tmp_path_factory.mktemp("cluster"))


@pytest.fixture
def clients() -> Iterator[callable]:
    """``clients(url, auth, name)``: a LiveClient, disconnected after the test."""
    made: list[LiveClient] = []

    def connect(url: str, auth: dict, name: str = "") -> LiveClient:
        client = LiveClient(url, auth, name)
        made.append(client)
        return client

    yield connect
    for client in made:
        client.close()


def issue_long_ago(cluster: Cluster, center: LiveCenter, service: str, minutes: int) -> None:
    """A visitor who took a ticket ``minutes`` ago, written straight to the database: the
    servers notice with the next change, as after a quiet spell."""
    with cluster.db.write() as s:
        center_row = s.scalar(select(Center).where(Center.code == center.code))
        kiosk = factories.kiosk_actor(s, center_row)
        when = utcnow() - timedelta(minutes=minutes)
        queue.issue_ticket(s, center.code, service, "az", None, kiosk, now=when)


def timed_call(endpoint, center: LiveCenter, label: str) -> tuple[dict, float]:
    ticket = endpoint.call_next(center, label)
    return ticket, time.monotonic()


def test_the_shipped_nginx_site_is_valid_as_it_stands(tmp_path):
    """deploy/nginx/novbe.conf with TLS (the tests run it without): `nginx -t` accepts
    it once the placeholders name a certificate."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=queue.example.gov", "-keyout", "key.pem", "-out", "cert.pem"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    site = SITE_CONFIG.read_text()
    for placeholder, ours in (
        ("/etc/ssl/novbe/fullchain.pem", tmp_path / "cert.pem"),
        ("/etc/ssl/novbe/privkey.pem", tmp_path / "key.pem"),
        ("/var/log/nginx/", f"{tmp_path}/"),
    ):
        assert placeholder in site
        site = site.replace(placeholder, str(ours))
    checked = subprocess.run(
        nginx_command(tmp_path / "nginx", site, "-t"), capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


# --- a. end to end over three processes ------------------------------------------------


def test_every_screen_follows_a_call_made_on_another_process(cluster, clients):
    """A kiosk on process 1, a display on process 2, the visitor's phone on process 3 and
    another through nginx, the counter on process 3: each screen has the call within a
    second of the counter's answer."""
    p1, p2, p3 = cluster.servers
    center = cluster.new_center()
    ticket = p1.issue(center, "pension-new")  # the kiosk, on process 1

    display = clients(p2.url, {"token": center.display_token}, "display@2")
    phone = clients(p3.url, {"ticket": ticket["tracking_token"]}, "phone@3")
    phone_nginx = clients(cluster.nginx.url, {"ticket": ticket["tracking_token"]}, "phone@nginx")
    for screen in (display, phone, phone_nginx):
        screen.wait("snapshot")
    # Each heard of the ticket (the display by event, the phones by their snapshot).
    display_mark = display.mark()

    called, answered = timed_call(p3, center, "1")
    assert called["number"] == ticket["number"]
    for screen in (display, phone, phone_nginx):
        arrived, data = screen.wait(
            "ticket.called", lambda d: d["number"] == ticket["number"], timeout=5
        )
        assert data["counter"] == "1"
        assert arrived - answered < FOLLOW_S, f"{screen.name}: {arrived - answered:.2f} s late"
    assert len(display.named("ticket.called", after=display_mark)) == 1  # once, not per process


def test_a_phone_hears_its_new_position_after_a_call_made_on_another_process(cluster, clients):
    p1, p2, p3 = cluster.servers
    center = cluster.new_center()
    tickets = [p1.issue(center, "pension-new") for _ in range(3)]
    mine = tickets[2]
    phone = clients(p3.url, {"ticket": mine["tracking_token"]}, "phone@3")
    phone_nginx = clients(cluster.nginx.url, {"ticket": mine["tracking_token"]}, "phone@nginx")
    for screen in (phone, phone_nginx):
        assert screen.wait("snapshot")[1]["ticket"]["position"] == 3

    # Called through process 1 and then process 2: neither holds the phone on process 3.
    for where, place in ((p1, 2), (p2, 1)):
        marks = {screen.name: screen.mark() for screen in (phone, phone_nginx)}
        where.call_next(center, "1" if place == 2 else "2")
        for screen in (phone, phone_nginx):
            screen.wait(
                "ticket.updated",
                lambda d, place=place: d.get("position") == place,
                after=marks[screen.name],
            )


def kiosk_printer(url: str, center: LiveCenter) -> dict:
    """The kiosk's printer as the process at ``url`` sees it (a kiosk screen's snapshot)."""
    client = LiveClient(url, {"token": center.kiosk_token}, f"kiosk@{url}")
    try:
        return client.wait("snapshot")[1]["printer"]
    finally:
        client.close()


def test_a_print_agent_connected_anywhere_prints_every_ticket_once(cluster, tmp_path):
    """The agent holds one WebSocket, through nginx, to one process; tickets issued on
    every process reach it, each printed exactly once, and every process knows it is
    there (a kiosk issuing on another process must not fall back to e-tickets)."""
    center = cluster.new_center()
    with LoopbackPrinter() as printer:
        agent = Agent(cluster.front, center, printer.url, tmp_path / "state")  # type: ignore[arg-type]
        try:
            deadline = time.monotonic() + 30
            for server in cluster.servers:
                while not kiosk_printer(server.url, center)["agent_connected"]:
                    assert time.monotonic() < deadline, (
                        f"{server.url} does not see the print agent:\n{agent.log()}"
                    )
                    time.sleep(0.2)

            issued = [
                server.issue(center, service)
                for server in cluster.servers
                for service in ("pension-new", "job-seeker")
            ]
            assert {t["print"]["state"] for t in issued} == {"pending"}, issued
            deadline = time.monotonic() + 30
            while True:
                with cluster.db.read() as s:
                    states = {
                        t.display_number: t.print_state
                        for t in s.scalars(
                            select(Ticket).where(Ticket.id.in_(t["id"] for t in issued))
                        )
                    }
                if set(states.values()) == {"printed"}:
                    break
                assert time.monotonic() < deadline, f"not all printed: {states}\n{agent.log()}"
                time.sleep(0.1)
            time.sleep(1)  # a second copy would come out now
            assert Counter(printed_numbers(cluster.servers[0], printer)) == Counter(
                t["number"] for t in issued
            )
        finally:
            agent.stop()
            print(agent.log())


def test_one_alert_per_breach_whichever_processes_notice_it(cluster, clients):
    """A queue passes its target: managers watching through two processes each hear it
    once, although all three processes recompute the figures after their own changes."""
    p1, p2, p3 = cluster.servers
    center = cluster.new_center()
    managers = [
        clients(server.url, {"token": center.manager_token}, f"manager@{n}")
        for n, server in ((1, p1), (2, p2))
    ]
    for manager in managers:
        manager.wait("snapshot")
    issue_long_ago(cluster, center, "pension-new", 20)  # target 15 min
    for server in cluster.servers:  # a change on each process: each looks again
        server.issue(center, "job-seeker")

    def all_three(stats: dict) -> bool:
        return any(
            row["service"] == "job-seeker" and row["waiting"] == 3 for row in stats["services"]
        )

    for manager in managers:
        manager.wait("queue.stats", all_three)
    time.sleep(1.5)  # the other processes' figures (and any second alert) arrive by now
    for manager in managers:
        alerts = [a for _, a in manager.named("alert", lambda d: d["kind"] == "wait")]
        assert [(a["service"], a["active"]) for a in alerts] == [("pension-new", True)], (
            f"{manager.name}: {alerts}"
        )

    # Called: the end of the breach, also once.
    marks = [manager.mark() for manager in managers]
    p3.call_next(center, "1")
    p2.issue(center, "job-seeker")
    for manager, mark in zip(managers, marks, strict=True):
        manager.wait("alert", lambda d: d["kind"] == "wait" and d["active"] is False, after=mark)
    time.sleep(1.5)
    for manager, mark in zip(managers, marks, strict=True):
        ended = manager.named("alert", lambda d: d["kind"] == "wait", after=mark)
        assert len(ended) == 1, f"{manager.name}: {ended}"


def test_a_device_setting_changed_on_one_process_reaches_its_screen_on_another(cluster, clients):
    """The admin API on process 1 changes the kiosk's printer; the kiosk's screen, on
    process 2, hears it (device.updated) without reconnecting."""
    p1, p2, _ = cluster.servers
    center = cluster.new_center()
    kiosk = clients(p2.url, {"token": center.kiosk_token}, "kiosk@2")
    kiosk.wait("snapshot")
    mark = kiosk.mark()
    response = p1.api(
        "PATCH",
        f"/centers/{center.code}/devices/kiosk-1",
        center.manager_token,
        json={"printer": "tcp://127.0.0.1:9"},
    )
    assert response.status_code == 200, response.text
    _, update = kiosk.wait("device.updated", after=mark, timeout=5)
    assert update["device"] == "kiosk-1"
    assert "tcp://" not in str(update["settings"])  # a screen never sees a printer address
    assert kiosk.connects == 1 and kiosk.disconnects == 0


@pytest.mark.browser
def test_the_display_and_phone_pages_through_nginx_follow_a_call(cluster, new_page):
    """Real browsers on the real pages, through nginx: the display's and the phone's
    Socket.IO connect over WebSocket to whichever process nginx picks, and show a call
    made on a process."""
    center = cluster.new_center()
    ticket = cluster.servers[0].issue(center, "job-seeker", language="en")
    display = new_page(1920, 1080)
    display.goto(f"{cluster.nginx.url}/display/hall#token={center.display_token}")
    expect(display.locator("#services .service").first).to_be_visible()
    phone = new_page(360, 640, has_touch=True, is_mobile=True)
    phone.goto(f"{cluster.nginx.url}/t/{ticket['tracking_token']}")
    expect(phone.locator("#number")).to_have_text(ticket["number"])

    called = cluster.servers[2].call_next(center, "3")  # wherever the pages' sockets are
    assert called["number"] == ticket["number"]
    expect(display.locator(f'#calls .call[data-number="{ticket["number"]}"]')).to_be_visible()
    expect(phone.locator("#call")).to_be_visible()
    expect(phone.locator("#call-where")).to_have_text("Go to counter 3")


# --- b. kill -9 under load --------------------------------------------------------------


class Kiosk(threading.Thread):
    """Issues a ticket every ``pause`` seconds through nginx, as the kiosk page does: a
    failed POST is sent again with the same Idempotency-Key until it is answered."""

    def __init__(self, url: str, center: LiveCenter, pause: float = 0.1) -> None:
        super().__init__(name="kiosk", daemon=True)
        self.url = f"{url}/api/v1/centers/{center.code}/tickets"
        self.headers = {"Authorization": f"Bearer {center.kiosk_token}"}
        self.pause = pause
        self.stop = threading.Event()
        self.acknowledged: dict[str, dict] = {}  # key -> the ticket
        self.failures: list[str] = []  # what a retried attempt got
        self.unanswered: list[str] = []  # keys given up on (none expected)
        self._n = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self._n += 1
            service = ("pension-new", "job-seeker")[self._n % 2]
            key = str(uuid.uuid4())
            for _ in range(100):
                try:
                    response = requests.post(
                        self.url,
                        json={"service": service, "language": "az"},
                        headers={**self.headers, "Idempotency-Key": key},
                        timeout=5,
                    )
                    if response.status_code in (200, 201):
                        self.acknowledged[key] = response.json()
                        break
                    self.failures.append(f"{response.status_code} {response.text[:100]}")
                except requests.RequestException as error:
                    self.failures.append(type(error).__name__)
                time.sleep(0.2)
            else:
                self.unanswered.append(key)
            self.stop.wait(self.pause)


class Staff(threading.Thread):
    """Calls and starts visitors at the center's counters through nginx, round robin.
    A call whose answer was lost shows at the counter as "busy": staff start that
    visitor (the counter page shows who it is), as they would."""

    def __init__(self, cluster: Cluster, center: LiveCenter) -> None:
        super().__init__(name="staff", daemon=True)
        self.front = cluster.front
        self.db = cluster.db
        self.center = center
        self.stop = threading.Event()
        self.called: list[dict] = []  # answered 200
        self.failures: list[str] = []

    def _post(self, path: str):
        try:
            return self.front.api("POST", path, self.center.staff_token)
        except requests.RequestException as error:
            self.failures.append(type(error).__name__)
            return None

    def _start(self, ticket_id: int) -> None:
        for _ in range(50):
            response = self._post(f"/tickets/{ticket_id}/start")
            if response is not None and response.status_code in (200, 409):
                return  # 409: an earlier attempt started it
            if response is not None:
                self.failures.append(f"start {response.status_code}")
            time.sleep(0.2)

    def run(self) -> None:
        labels = sorted(self.center.counters)
        n = 0
        while not self.stop.is_set():
            label = labels[n % len(labels)]
            n += 1
            response = self._post(f"/counters/{self.center.counters[label]}/call-next")
            if response is None:
                time.sleep(0.2)
            elif response.status_code == 200:
                self.called.append(response.json())
                self._start(response.json()["id"])
            elif response.status_code == 409 and response.json()["error"]["code"] == "counter_busy":
                with self.db.read() as s:
                    ticket = s.scalar(
                        select(Ticket).where(
                            Ticket.counter_id == self.center.counters[label],
                            Ticket.status == "called",
                        )
                    )
                    if ticket is not None:
                        self._start(ticket.id)
            elif response.status_code == 204:
                time.sleep(0.05)
            else:
                self.failures.append(f"call {response.status_code} {response.text[:100]}")
                time.sleep(0.2)
            self.stop.wait(0.15)


def test_kill_9_of_a_process_under_load_loses_and_doubles_nothing(tmp_path, clients):
    cluster_context = _cluster(tmp_path)
    cluster = next(cluster_context)
    try:
        _kill_9_under_load(cluster, clients)
    finally:
        cluster_context.close()


def _kill_9_under_load(cluster: Cluster, clients) -> None:
    center = cluster.new_center()
    front = cluster.nginx.url
    first = [cluster.front.issue(center, "job-seeker") for _ in range(3)]
    screens = [clients(front, {"token": center.display_token}, f"display-{n}") for n in range(6)]
    screens += [
        clients(front, {"ticket": t["tracking_token"]}, f"phone-{t['number']}") for t in first
    ]
    for screen in screens:
        screen.wait("snapshot")

    kiosk, staff = Kiosk(front, center), Staff(cluster, center)
    kiosk.start()
    staff.start()
    time.sleep(3)  # steady issuing and calling
    before = len(kiosk.acknowledged), len(staff.called)
    victim = cluster.servers[1]
    killed_at = datetime.now(UTC)
    victim.kill()
    time.sleep(6)  # the screens reconnect, nginx learns the process is gone
    kiosk.stop.set()
    staff.stop.set()
    kiosk.join(30)
    staff.join(30)
    after = len(kiosk.acknowledged), len(staff.called)
    print(f"issued {before[0]} -> {after[0]}, called {before[1]} -> {after[1]}")
    print(f"kiosk retries: {Counter(kiosk.failures)}; staff: {Counter(staff.failures)}")
    assert after[0] > before[0] and after[1] > before[1], "issuing and calling stopped"
    assert not kiosk.unanswered, "a ticket's retries never succeeded"

    # Screens of the killed process came back (to another one) with a fresh snapshot.
    dropped = [screen for screen in screens if screen.disconnects]
    assert dropped, "no screen was on the killed process: the test proved nothing"
    killed_iso = killed_at.isoformat().replace("+00:00", "Z")
    for screen in dropped:
        assert screen.connects >= 2, f"{screen.name} did not reconnect"
        disconnect = [i for i, e in enumerate(screen.events) if e[1] == "(disconnect)"][0]
        _, snapshot = screen.wait("snapshot", after=disconnect + 1, timeout=15)
        assert snapshot["at"] > killed_iso, f"{screen.name}: a stale snapshot {snapshot['at']}"

    # Nothing acknowledged is lost or doubled.
    with cluster.db.read() as s:
        center_id = s.scalar(select(Center.id).where(Center.code == center.code))
        rows = s.execute(
            select(Ticket.id, Ticket.prefix, Ticket.number, Ticket.status).where(
                Ticket.center_id == center_id
            )
        ).all()
        calls = Counter(
            s.scalars(
                select(TicketEvent.ticket_id)
                .join(Ticket)
                .where(Ticket.center_id == center_id, TicketEvent.action == "call")
            )
        )
    acknowledged = {t["id"] for t in kiosk.acknowledged.values()} | {t["id"] for t in first}
    assert len(acknowledged) == len(kiosk.acknowledged) + len(first), "two keys, one ticket"
    assert {row.id for row in rows} == acknowledged, "tickets nobody was told about, or lost"
    numbers: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        numbers[row.prefix].append(row.number)
    for prefix, issued in numbers.items():
        assert sorted(issued) == list(range(1, len(issued) + 1)), f"{prefix}: gaps or doubles"
    status = {row.id: row.status for row in rows}
    for call in staff.called:
        assert status[call["id"]] in ("called", "serving", "done"), call
    assert all(count == 1 for count in calls.values()), f"called twice: {calls}"
    assert {c["id"] for c in staff.called} <= set(calls)

    # The killed process restarts on its port and rejoins: a screen connected straight
    # to it hears a change made on another process, and the others hear its changes.
    restarted = victim.restart()
    cluster.servers[1] = restarted
    assert wait_ready(restarted.url)["status"] == "ready"
    own = clients(restarted.url, {"token": center.display_token}, "display@restarted")
    own.wait("snapshot")
    ticket = cluster.servers[0].issue(center, "pension-new")
    own.wait("ticket.issued", lambda d: d["number"] == ticket["number"])
    other = screens[0]
    mark = other.mark()
    called = restarted.call_next(center, "1")
    assert called is not None
    for screen in (own, other):
        screen.wait("ticket.called", lambda d: d["number"] == called["number"], after=0)
    assert other.named("ticket.called", lambda d: d["number"] == called["number"], after=mark)
