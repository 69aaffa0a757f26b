"""``novbe counter-agent``: ties a counter's LED number display and its call button to
the server, on a small PC (or a Raspberry Pi) at the counter.

* The display: the agent joins the live channel as staff at that counter (auth
  ``{token, counter}``, see docs/realtime.md) and shows the counter's current ticket,
  from the ``snapshot`` every (re)connect brings and from ``counter.updated``; on a
  recall (``ticket.called`` for this counter with ``recall_count`` > 0) it blinks.
* The button: a press calls next through the REST API
  (``POST /api/v1/counters/{id}/call-next``), exactly as the counter screen does;
  a recall press recalls the visitor called last. A press is never repeated on its
  own: a call that timed out may have happened, and a second one would skip a
  visitor. When the server cannot be reached the press is lost, and logged.
* Restarts and network drops: the agent connects again with back-off (1 s doubling
  to 30 s, randomized so a center's agents do not return all at once) and redraws
  the display from the fresh snapshot. The display keeps the last number meanwhile:
  it is still right until the counter calls again.
* Staff tokens expire (``NOVBE_API_TOKEN_HOURS``, 12 h by default). Given a username
  and password instead of a token, the agent logs in and logs in again whenever
  its token is refused; with a bare token it logs the refusal and keeps trying.

No server changes: it uses the live channel and the API as they are.
"""

from __future__ import annotations

import logging
import queue
import random
import signal
import threading
import time
from typing import Any

import requests
import socketio

from .button import NEXT, RECALL, Button, Press, open_button
from .led import LedDisplay, LedKeeper
from .staff_credentials import HTTP_TIMEOUT, AgentError, Credentials, error_message

log = logging.getLogger("novbe.counter_agent")

NAMESPACE = "/live"
RECONNECT_MIN = 1.0
RECONNECT_MAX = 30.0
SHUTDOWN_S = 10.0  # at most this long from SIGTERM to exit


class CounterAgent:
    def __init__(
        self,
        server: str,
        credentials: Credentials,
        counter_id: int,
        led: LedKeeper | None = None,
        button: Button | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.credentials = credentials
        self.counter_id = counter_id
        self.led = led
        self.button = button
        self.label: str | None = None  # the counter's label, from the snapshot
        self.ticket: dict | None = None  # the counter's current ticket (staff JSON)
        self._http = requests.Session()
        self._presses: queue.Queue[Press | None] = queue.Queue()
        self._busy = threading.Lock()  # held from a press until the server answered it
        self._sio: socketio.Client | None = None
        self._sio_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # Running.

    def run(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set."""
        log.info(
            "counter agent for counter %s at %s (display: %s, button: %s)",
            self.counter_id,
            self.server,
            self.led.display.path if self.led else "none",
            self.button.path if self.button else "none",
        )
        if self.led:
            self.led.start()
        self._spawn("live", self._live_loop, stop)
        if self.button:
            self._spawn("presses", self._press_loop)
            self._spawn("button", self.button.run, self.on_press, stop)
        try:
            stop.wait()
        finally:
            self._shutdown()

    def _spawn(self, name: str, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _shutdown(self) -> None:
        """Leave within SHUTDOWN_S whatever hangs: a service manager stopping the agent
        must not have to kill it (the threads are daemons; the process ends anyway)."""
        log.info("stopping")
        deadline = time.monotonic() + SHUTDOWN_S
        with self._sio_lock:
            sio = self._sio
        if sio is not None:
            # Its close handshake waits on the server: in a thread of its own.
            self._spawn("disconnect", sio.disconnect)
        self._presses.put(None)  # wakes the press thread up to finish
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
        if late := [thread.name for thread in self._threads if thread.is_alive()]:
            log.warning("stopping without waiting for: %s", ", ".join(late))
        if self.led:
            self.led.stop()  # the display keeps showing its last number

    # The live channel.

    def _live_loop(self, stop: threading.Event) -> None:
        delay = RECONNECT_MIN
        while not stop.is_set():
            try:
                if self._connect_and_wait(stop):
                    delay = RECONNECT_MIN
            except Exception:  # a bug must not end the agent's link to the server
                log.exception("live channel: unexpected error")
            if stop.is_set():
                break
            pause = random.uniform(delay / 2, delay)
            log.info("live channel: connecting again in %.1f s", pause)
            stop.wait(pause)
            delay = min(delay * 2, RECONNECT_MAX)

    def _connect_and_wait(self, stop: threading.Event) -> bool:
        """One connection, kept until it drops. False if it could not be made."""
        try:
            token = self.credentials.token()
        except AgentError as exc:
            log.error("cannot log in: %s", exc)
            return False
        sio = socketio.Client(reconnection=False)  # reconnecting is _live_loop's job
        refusals: list[str] = []
        sio.on("connect_error", lambda data=None: refusals.append(_reason(data)), NAMESPACE)
        sio.on("disconnect", self._on_disconnect, NAMESPACE)
        sio.on("snapshot", self.on_snapshot, NAMESPACE)
        sio.on("counter.updated", self.on_counter_updated, NAMESPACE)
        sio.on("ticket.called", self.on_ticket_called, NAMESPACE)
        try:
            sio.connect(
                self.server,
                auth={"token": token, "counter": self.counter_id},
                namespaces=[NAMESPACE],
                # WebSocket only: several server processes share no long-polling sessions.
                transports=["websocket"],
                wait_timeout=10,
            )
        except (socketio.exceptions.ConnectionError, ValueError) as exc:
            reason = refusals[-1] if refusals else str(exc) or type(exc).__name__
            log.warning("live channel: cannot connect to %s: %s", self.server, reason)
            if refusals and "token" in reason and self.credentials.renew(token):
                log.info("live channel: logged in again, retrying")
            return False
        with self._sio_lock:
            self._sio = sio
        if stop.is_set():
            sio.disconnect()
        sio.wait()
        with self._sio_lock:
            self._sio = None
        return True

    @property
    def live(self) -> bool:
        sio = self._sio
        return sio is not None and sio.connected

    def _on_disconnect(self, reason: Any = None) -> None:
        level = logging.INFO if reason == "client disconnect" else logging.WARNING  # we left
        log.log(level, "live channel: disconnected (%s)", reason or "no reason given")

    def on_snapshot(self, data: dict) -> None:
        counter = data.get("counter") or {}
        self.label = counter.get("label")
        log.info(
            "live channel: connected as %s to counter %s (%s), current ticket %s",
            (data.get("user") or {}).get("username", "?"),
            self.label,
            counter.get("state"),
            _number(counter.get("ticket")) or "none",
        )
        self._show_counter(counter)

    def on_counter_updated(self, data: dict) -> None:
        if data.get("id") != self.counter_id:
            return
        self.label = data.get("label", self.label)
        before = _number(self.ticket)
        self._show_counter(data)
        if _number(self.ticket) != before:
            log.info("counter %s: current ticket %s", self.label, _number(self.ticket) or "none")

    def on_ticket_called(self, data: dict) -> None:
        if self.label is None or data.get("counter") != self.label:
            return
        if data.get("recall_count"):
            log.info("counter %s: %s recalled", self.label, data.get("number"))
            if self.led:
                self.led.blink(data["number"])

    def _show_counter(self, counter: dict) -> None:
        self.ticket = counter.get("ticket")
        if self.led:
            self.led.show(_number(self.ticket))

    # The button.

    def on_press(self, press: Press) -> None:
        """Called by the button thread; the work is done by the press thread, one
        press at a time, so a slow server never blocks reading the button."""
        if not self._busy.acquire(blocking=False):
            log.warning("%s press ignored: still busy with the previous one", press.action)
            return
        self._presses.put(press)

    def _press_loop(self) -> None:
        while (press := self._presses.get()) is not None:
            try:
                if press.action == NEXT:
                    self.call_next()
                elif press.action == RECALL:
                    self.recall()
            except Exception:
                log.exception("%s press failed", press.action)
            finally:
                self._busy.release()

    def call_next(self) -> dict | None:
        response = self._post(f"/counters/{self.counter_id}/call-next")
        if response is None:
            return None
        if response.status_code == 200:
            ticket = response.json()
            log.info("called %s to counter %s", ticket["number"], self.label or self.counter_id)
            self.ticket = ticket
            if self.led:
                self.led.show(ticket["number"])
            return ticket
        if response.status_code == 204:
            log.info("nobody is waiting for counter %s", self.label or self.counter_id)
            self.ticket = None
            if self.led:
                self.led.show(None)
            return None
        log.warning("call next refused: %s", error_message(response))
        return None

    def recall(self) -> dict | None:
        ticket = self.ticket
        if not ticket or ticket.get("status") != "called":
            log.warning(
                "recall ignored: counter %s has no called visitor", self.label or self.counter_id
            )
            return None
        response = self._post(f"/tickets/{ticket['id']}/recall")
        if response is None:
            return None
        if response.status_code != 200:
            log.warning("recall of %s refused: %s", ticket["number"], error_message(response))
            return None
        body = response.json()
        log.info("recalled %s (recall %s)", body["number"], body["recall_count"])
        if self.led and not self.live:  # else ticket.called blinks it
            self.led.blink(body["number"])
        return body

    def _post(self, path: str) -> requests.Response | None:
        """POST to the API once (and once more only if the token was refused before the
        server did anything). None when the server could not be reached."""
        for attempt in (1, 2):
            try:
                token = self.credentials.token()
            except AgentError as exc:
                log.error("press lost: cannot log in (%s); press again later", exc)
                return None
            try:
                response = self._http.post(
                    f"{self.server}/api/v1{path}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=HTTP_TIMEOUT,
                )
            except requests.RequestException as exc:
                log.error("press lost: server not reachable (%s); press again later", exc)
                return None
            if response.status_code == 401 and attempt == 1 and self.credentials.renew(token):
                continue
            if response.status_code == 401:
                log.error("the server refused the token: %s", error_message(response))
            return response
        return None


def _number(ticket: dict | None) -> str | None:
    return ticket.get("number") if ticket else None


def _reason(data: Any) -> str:
    if isinstance(data, dict):
        return str(data.get("message", data))
    return str(data)


def build_agent(
    server: str,
    counter_id: int,
    *,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    led_url: str | None = None,
    button_url: str | None = None,
) -> CounterAgent:
    """The agent from the command line's words; ValueError says what is wrong."""
    if not server.startswith(("http://", "https://")):
        raise ValueError(f"--server must be an http:// or https:// URL, not {server!r}")
    if not led_url and not button_url:
        raise ValueError("give --led, --button or both")
    server = server.rstrip("/")
    led = LedKeeper(LedDisplay.from_url(led_url)) if led_url else None
    button = open_button(button_url) if button_url else None
    credentials = Credentials(server, token, username, password)
    return CounterAgent(server, credentials, counter_id, led, button)


def run_counter_agent(agent: CounterAgent) -> None:
    """Run until SIGINT or SIGTERM."""
    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        log.info("got %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    agent.run(stop)


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Their INFO lines repeat ours in less useful words.
    for name in ("socketio", "engineio", "urllib3", "websocket"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
