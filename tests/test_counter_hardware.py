"""The counter's LED display and call button (hardware/led.py, button.py,
serial_line.py) and ``novbe counter-agent`` that ties them to a counter.

No device is attached: each serial device is a pseudo-terminal pair. The code under
test opens the slave's path as a serial port, with pyserial, as it would open
/dev/ttyUSB1; the test holds the master end and reads what the display was sent or
writes what the button sends. Unplugging is closing the pair (its /dev/pts node
vanishes, as a USB adapter's does); plugging back in is pointing a symlink, as udev's
/dev/serial/by-id names are, at a new pair. End to end, the agent runs as its own
process (``python -m server.cli counter-agent``) against a real server.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import tty
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select as sql_select
from sqlalchemy import update

from hardware.button import (
    EV_KEY,
    INPUT_EVENT,
    NEXT,
    RECALL,
    Debouncer,
    KeyboardButton,
    LineParser,
    Press,
    SerialButton,
    open_button,
    parse_key_events,
)
from hardware.led import LedDisplay, LedError, LedKeeper, led_text
from hardware.serial_line import DeviceUnavailable, SerialUrlError, parse_serial_url
from server import queue
from server.auth import TOKEN_CACHE_TTL_S, staff_actor
from server.db import Database
from server.models import ApiToken, StaffUser

from .live import start_live_server

ROOT = Path(__file__).resolve().parent.parent
WAIT = 20  # seconds before a wait gives up: a failure bound, never a measurement


class Pty:
    """A pseudo-terminal pair standing in for a serial device: ``path`` is what the
    code under test opens; the test reads and writes the master end."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no line editing: bytes pass as they are
        self.path = os.ttyname(self.slave)
        self.lines: list[str] = []
        self._buffer = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def next_line(self, timeout: float = WAIT) -> str:
        """The next CR LF-ended line the device was sent."""
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"nothing more came; got {self.lines}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                self._buffer += os.read(self.master, 1024)
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        self.lines.append(line.decode("ascii"))
        return self.lines[-1]

    def wait_for(self, expected: str, timeout: float = WAIT) -> list[str]:
        """Read lines until ``expected`` comes; the lines read before it."""
        before = []
        while (line := self.next_line(timeout)) != expected:
            before.append(line)
        return before

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.master)
            os.close(self.slave)


@pytest.fixture
def ptys():
    made: list[Pty] = []

    def make() -> Pty:
        made.append(Pty())
        return made[-1]

    yield make
    for pty in made:
        pty.close()


def plug(link: Path, pty: Pty) -> None:
    """Point ``link`` at ``pty`` at once, as udev does with /dev/serial/by-id names."""
    tmp = link.with_name(link.name + ".new")
    os.symlink(pty.path, tmp)
    os.replace(tmp, link)


def key_event(code: int, value: int, kind: int = EV_KEY) -> bytes:
    return INPUT_EVENT.pack(1_700_000_000, 0, kind, code, value)


# Device strings.


def test_serial_urls_with_defaults_options_and_device_options():
    spec = parse_serial_url("serial:///dev/ttyUSB1")
    assert (spec.path, spec.baudrate, spec.bytesize, spec.parity, spec.stopbits) == (
        "/dev/ttyUSB1",
        9600,
        8,
        "N",
        1,
    )
    spec = parse_serial_url(
        "serial:///dev/serial/by-id/usb-FTDI-if00?baudrate=19200&parity=e&stopbits=2"
        "&timeout=2.5&ack=1",
        {"ack"},
    )
    assert spec.path == "/dev/serial/by-id/usb-FTDI-if00"
    assert (spec.baudrate, spec.parity, spec.stopbits, spec.timeout) == (19200, "E", 2, 2.5)
    assert spec.options == {"ack": "1"}


@pytest.mark.parametrize(
    "url, why",
    [
        ("/dev/ttyUSB1", "must start with serial://"),
        ("tcp://10.0.0.5:9100", "must start with serial://"),
        ("serial://dev/ttyUSB1", "three slashes"),
        ("serial://", "no device path"),
        ("serial:///dev/ttyUSB1?baud=9600", "unknown option baud"),
        ("serial:///dev/ttyUSB1?baudrate=fast", "a number was expected"),
        ("serial:///dev/ttyUSB1?parity=X", "parity must be"),
        ("serial:///dev/ttyUSB1?bytesize=9", "bytesize must be"),
        ("serial:///dev/ttyUSB1?timeout=0", "timeout must be"),
    ],
)
def test_a_bad_serial_url_is_refused_with_the_accepted_forms(url, why):
    with pytest.raises(SerialUrlError) as refused:
        parse_serial_url(url)
    assert why in str(refused.value)
    assert "serial:///dev/ttyUSB0" in str(refused.value)  # the accepted forms


@pytest.mark.parametrize(
    "url, why",
    [
        ("usb://1234:5678", "unknown kind"),
        ("keyboard://input/event3", "three slashes"),
        ("keyboard:///dev/input/event3?key=28", "unknown option key"),
        ("keyboard:///dev/input/event3?keys=enter", "key codes are numbers"),
        ("serial:///dev/ttyUSB2?debounce=soon", "debounce is 0 to 10"),
        ("serial:///dev/ttyUSB2?ack=1", "unknown option ack"),
    ],
)
def test_a_bad_button_url_is_refused(url, why):
    with pytest.raises(SerialUrlError) as refused:
        open_button(url)
    assert why in str(refused.value)


def test_button_urls():
    serial_button = open_button("serial:///dev/ttyUSB2?baudrate=2400&debounce=0.5")
    assert isinstance(serial_button, SerialButton)
    assert (serial_button.line.spec.baudrate, serial_button.debouncer.window) == (2400, 0.5)
    keyboard = open_button("keyboard:///dev/input/event3?keys=28,96&recall=&grab=0")
    assert isinstance(keyboard, KeyboardButton)
    assert (keyboard.path, keyboard.next_keys, keyboard.recall_keys, keyboard.grab) == (
        "/dev/input/event3",
        {28, 96},
        set(),
        False,
    )
    default = open_button("keyboard:///dev/input/event3")
    assert (default.next_keys, default.recall_keys, default.grab) == (None, {19}, True)


# The LED protocol.


def test_led_text_is_one_line_of_printable_ascii():
    assert led_text("A012") == "A012"
    assert led_text("Xoş gəldiniz, ÇĞÜÖİ") == "Xos geldiniz, CGUOI"
    assert led_text("Окно 5") == "???? 5"
    assert led_text("A1\r\nCLEAR") == "A1??CLEAR"  # no second command smuggled in
    assert led_text("9" * 40) == "9" * 32


def test_led_commands_on_the_wire(ptys):
    device = ptys()
    display = LedDisplay.from_url(f"serial://{device.path}?baudrate=9600")
    display.show("A012")
    display.blink("A012")
    display.clear()
    display.text("Xoş gəldiniz")
    assert [device.next_line() for _ in range(4)] == [
        "SHOW A012",
        "BLINK A012",
        "CLEAR",
        "TEXT Xos geldiniz",
    ]
    display.line.close()


class AnsweringDevice:
    """A display that answers each command: OK, or ERR for text it cannot show; it
    prints a banner first, as some controllers do after a reset. A context manager:
    it must stop before its pty closes, or it would read the next test's pty when
    the file descriptor numbers are reused."""

    def __init__(self, pty: Pty) -> None:
        self.pty = pty
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> AnsweringDevice:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(WAIT)

    def _serve(self) -> None:
        self.pty.write(b"LEDCTL v1.2 ready\r\n")
        while not self.stop.is_set():
            try:
                line = self.pty.next_line(timeout=0.1)
            except AssertionError:
                continue  # nothing yet
            self.pty.write(b"ERR unknown glyph\r\n" if "%" in line else b"OK\r\n")


def test_led_answers_ok_and_err(ptys):
    device = ptys()
    display = LedDisplay.from_url(f"serial://{device.path}?ack=1&timeout=5")
    with AnsweringDevice(device):
        display.show("A012")
        display.ping()
        with pytest.raises(LedError, match="unknown glyph"):
            display.text("50%")
        display.clear()  # the refusal left the line usable
        display.line.close()
    assert device.lines == ["SHOW A012", "PING", "TEXT 50%", "CLEAR"]


def test_led_that_does_not_answer_times_out(ptys):
    device = ptys()  # never answers
    display = LedDisplay.from_url(f"serial://{device.path}?ack=1&timeout=0.2")
    with pytest.raises(DeviceUnavailable, match="no answer to 'SHOW A012' within 0.2 s"):
        display.show("A012")
    assert device.next_line() == "SHOW A012"
    assert not display.line.is_open  # opened afresh next time


def test_led_missing_device_is_unavailable(tmp_path):
    display = LedDisplay.from_url(f"serial://{tmp_path}/ttyUSB9")
    with pytest.raises(DeviceUnavailable, match="cannot open"):
        display.show("A001")


def test_led_keeper_redraws_a_display_plugged_back_in(ptys, tmp_path):
    first = ptys()
    link = tmp_path / "ttyLED"
    plug(link, first)
    keeper = LedKeeper(LedDisplay.from_url(f"serial://{link}")).start()
    try:
        keeper.show("A007")
        assert first.next_line() == "SHOW A007"

        first.close()  # unplugged: the keeper notices on its own
        second = ptys()
        plug(link, second)  # plugged in again, under a new device node
        assert second.next_line() == "SHOW A007"  # redrawn without being asked

        keeper.blink("A007")
        keeper.show("A007")  # the counter's update after a recall: already shown
        assert second.next_line() == "BLINK A007"
        keeper.show("B002")
        assert second.next_line() == "SHOW B002"  # and no SHOW A007 before it
        keeper.show(None)
        assert second.next_line() == "CLEAR"
    finally:
        keeper.stop()


def test_led_keeper_repeats_itself_to_a_display_that_cannot_answer(ptys):
    # Such a display, switched off and on, comes back blank without a word.
    device = ptys()
    keeper = LedKeeper(LedDisplay.from_url(f"serial://{device.path}?refresh=0.2")).start()
    try:
        keeper.show("C003")
        assert [device.next_line(), device.next_line()] == ["SHOW C003", "SHOW C003"]
    finally:
        keeper.stop()


# The button.


def test_serial_lines_and_bytes_become_presses():
    parser = LineParser()
    presses = parser.feed(b"NEXT\r\nR\r\n1\n\r", at=5.0)
    assert [(p.action, p.raw) for p in presses] == [
        (NEXT, "NEXT"),
        (RECALL, "R"),
        (NEXT, "1"),
        (NEXT, "<line end>"),  # a button that sends Enter alone
    ]
    assert parser.feed(b"recall", at=6.0) == []  # no line end yet
    assert parser.pending
    assert [p.action for p in parser.flush(at=6.05)] == [RECALL]
    assert parser.flush(at=7.0) == []


def test_presses_within_the_window_count_once():
    debouncer = Debouncer(1.0)
    accepted = [
        debouncer.accept(Press(action, at, ""))
        for action, at in [
            (NEXT, 10.0),
            (NEXT, 10.2),  # bounce
            (RECALL, 10.3),  # another key: its own window
            (NEXT, 10.99),
            (NEXT, 11.0),  # a second deliberate press
            (RECALL, 11.1),
        ]
    ]
    assert accepted == [True, False, True, False, True, False]


def test_key_events_become_presses():
    data = (
        key_event(28, 1)  # Enter down
        + key_event(0, 0, kind=0)  # EV_SYN
        + key_event(28, 2)  # auto-repeat
        + key_event(28, 0)  # release
        + key_event(19, 1)  # R down
        + key_event(57, 1)[:10]  # half a record: the rest comes with the next read
    )
    actions, rest = parse_key_events(data, None, {19})
    assert actions == [(NEXT, 28), (RECALL, 19)]
    actions, rest = parse_key_events(rest + key_event(57, 1)[10:], None, {19})
    assert (actions, rest) == ([(NEXT, 57)], b"")
    only_enter, _ = parse_key_events(key_event(57, 1) + key_event(96, 1), {28, 96}, set())
    assert only_enter == [(NEXT, 96)]


def run_button(button) -> tuple[list[Press], threading.Event, threading.Thread]:
    presses: list[Press] = []
    stop = threading.Event()
    thread = threading.Thread(target=button.run, args=(presses.append, stop), daemon=True)
    thread.start()
    assert button.ready.wait(WAIT)
    return presses, stop, thread


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_serial_button_over_a_pty_survives_being_unplugged(ptys, tmp_path):
    first = ptys()
    link = tmp_path / "ttyBTN"
    plug(link, first)
    button = open_button(f"serial://{link}?debounce=0")
    presses, stop, thread = run_button(button)
    try:
        first.write(b"NEXT\r\n")
        first.write(b"R")  # a keypad that sends one byte per key, no line end
        wait_until(lambda: len(presses) == 2, "two presses")
        assert [p.action for p in presses] == [NEXT, RECALL]

        first.close()
        wait_until(lambda: not button.ready.is_set(), "the button to notice the unplugging")
        second = ptys()
        plug(link, second)
        assert button.ready.wait(WAIT)
        second.write(b"N\r\n")
        wait_until(lambda: len(presses) == 3, "a press on the device plugged back in")
        assert presses[2].action == NEXT
    finally:
        stop.set()
        thread.join(WAIT)


def test_serial_button_debounces_a_double_press(ptys):
    device = ptys()
    button = open_button(f"serial://{device.path}")  # debounce 1 s
    presses, stop, thread = run_button(button)
    try:
        device.write(b"N\r\nN\r\nR\r\n")  # one burst: arrives within the window
        wait_until(lambda: len(presses) == 2, "the presses")
        assert [p.action for p in presses] == [NEXT, RECALL]
    finally:
        stop.set()
        thread.join(WAIT)


def test_keyboard_button_reads_input_events(ptys):
    # A pty is no input device: grabbing it fails (and is logged); reading the
    # struct input_event records works the same.
    device = ptys()
    button = open_button(f"keyboard://{device.path}?debounce=0")
    presses, stop, thread = run_button(button)
    try:
        device.write(key_event(28, 1) + key_event(28, 0) + key_event(19, 1) + key_event(19, 0))
        wait_until(lambda: len(presses) == 2, "two key presses")
        assert [(p.action, p.raw) for p in presses] == [(NEXT, "key 28"), (RECALL, "key 19")]
    finally:
        stop.set()
        thread.join(WAIT)


# The agent, end to end against a running server.


class AgentProcess:
    """``python -m server.cli counter-agent ...`` with its log read as it comes."""

    def __init__(self, *args: str, env: dict | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "counter-agent", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env=dict(os.environ, **(env or {})),
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, pattern: str, after: int = 0) -> int:
        """The index of the first log line from ``after`` on that matches ``pattern``."""
        deadline = time.monotonic() + WAIT
        with self._changed:
            while True:
                for index in range(after, len(self.lines)):
                    if re.search(pattern, self.lines[index]):
                        return index
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None and not self._more():
                    raise AssertionError(f"no log line like {pattern!r}:\n" + self.log())
                self._changed.wait(min(left, 0.5))

    def _more(self) -> bool:
        return not self.process.stdout.closed and bool(
            select.select([self.process.stdout], [], [], 0)[0]
        )

    def log(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def agents():
    started: list[AgentProcess] = []

    def start(server, center, led: Pty, button: str, *extra: str, env=None) -> AgentProcess:
        args = [
            "--server",
            server.url,
            "--counter",
            str(center.counters["1"]),
            "--led",
            f"serial://{led.path}",
            "--button",
            button,
            *extra,
        ]
        if "--username" not in extra:
            args += ["--token", center.staff_token]
        started.append(AgentProcess(*args, env=env))
        return started[-1]

    yield start
    for agent in started:
        agent.stop()


def status(server, ticket: dict) -> tuple[str, str | None]:
    body = server.api("GET", f"/tickets/{ticket['tracking_token']}").json()
    return body["status"], (body["counter"] or {}).get("label")


def act(server, center, ticket: dict, action: str) -> None:
    """What the counter screen does: POST /tickets/{id}/{action}."""
    response = server.api("POST", f"/tickets/{ticket['id']}/{action}", center.manager_token)
    assert response.status_code == 200, response.text


def test_button_calls_next_and_the_display_follows_the_counter(
    live_server, live_center, ptys, agents
):
    first = live_server.issue(live_center, "pension-new")
    second = live_server.issue(live_center, "pension-new")
    led, button = ptys(), ptys()
    # No debounce here: the presses come faster than people press (see the next test).
    agent = agents(live_server, live_center, led, f"serial://{button.path}?debounce=0")
    agent.wait_for(r"connected as staff-\d+ to counter 1 .*current ticket none")
    assert led.next_line() == "CLEAR"  # from the snapshot: nobody at the counter
    agent.wait_for("button .*: ready")

    button.write(b"N\r\n")
    assert led.next_line() == f"SHOW {first['number']}"
    assert status(live_server, first) == ("called", "1")
    assert status(live_server, second) == ("waiting", None)

    # A recall from the counter screen (the API) makes the display blink.
    act(live_server, live_center, first, "recall")
    assert led.next_line() == f"BLINK {first['number']}"

    # Pressing again before the called visitor came: the server refuses, the agent
    # says why, and nobody else is called.
    button.write(b"N\r\n")
    agent.wait_for("call next refused: .*counter_busy")
    assert status(live_server, second) == ("waiting", None)

    # The visitor came; next completes them and calls the second.
    act(live_server, live_center, first, "start")
    button.write(b"NEXT\r\n")
    assert led.next_line() == f"SHOW {second['number']}"
    assert status(live_server, first) == ("done", None)
    assert status(live_server, second) == ("called", "1")

    # A change made elsewhere (the counter screen) reaches the display too.
    act(live_server, live_center, second, "start")
    act(live_server, live_center, second, "complete")
    assert led.next_line() == "CLEAR"

    assert agent.stop() == 0, agent.log()  # SIGTERM: a clean stop
    assert "stopping" in agent.log()


def test_a_double_press_calls_one_visitor(live_server, live_center, ptys, agents):
    tickets = [live_server.issue(live_center, "pension-new") for _ in range(2)]
    led, button = ptys(), ptys()
    agent = agents(live_server, live_center, led, f"serial://{button.path}")  # 1 s
    agent.wait_for("button .*: ready")
    assert led.next_line() == "CLEAR"

    button.write(b"N\r\nN\r\n")  # an impatient double press
    agent.wait_for("next press ignored")
    assert led.next_line() == f"SHOW {tickets[0]['number']}"
    agent.wait_for(f"called {tickets[0]['number']}")
    assert status(live_server, tickets[0]) == ("called", "1")
    assert status(live_server, tickets[1]) == ("waiting", None)
    assert not any("refused" in line for line in agent.lines)  # no second call tried


def test_keyboard_button_calls_and_recalls_and_the_agent_logs_in_again(
    live_server, live_center, ptys, agents
):
    ticket = live_server.issue(live_center, "pension-recalc")
    led, keyboard = ptys(), ptys()
    agent = agents(
        live_server,
        live_center,
        led,
        f"keyboard://{keyboard.path}?keys=28,96",
        "--username",
        live_center.staff_username,
        env={"NOVBE_PASSWORD": live_center.password},
    )
    agent.wait_for("cannot grab it")  # a pty is no input device; reading works alike
    agent.wait_for("button .*: ready")
    assert led.next_line() == "CLEAR"

    # Every token of that staff member expires (tokens last NOVBE_API_TOKEN_HOURS).
    with live_server.db.write() as s:
        staff_id = s.scalar(
            sql_select(StaffUser.id).where(StaffUser.username == live_center.staff_username)
        )
        s.execute(
            update(ApiToken)
            .where(ApiToken.staff_id == staff_id)
            .values(expires_at=datetime(2000, 1, 1, tzinfo=UTC))
        )
    # Behind the server's back: its cache of tokens believes them for as long as it keeps
    # them (server/auth.py); a token's real expiry is never outlived.
    time.sleep(TOKEN_CACHE_TTL_S + 0.5)

    keyboard.write(key_event(57, 1) + key_event(57, 0))  # space: not one of the keys
    keyboard.write(key_event(28, 1) + key_event(28, 0))  # Enter
    assert led.next_line() == f"SHOW {ticket['number']}"
    assert status(live_server, ticket) == ("called", "1")
    agent.wait_for("logged in as", after=agent.wait_for("logged in as") + 1)  # again

    keyboard.write(key_event(19, 1) + key_event(19, 0))  # R: recall
    assert led.next_line() == f"BLINK {ticket['number']}"
    agent.wait_for(f"recalled {ticket['number']} \\(recall 1\\)")


def test_the_agent_outlives_a_server_restart(tmp_path, ptys, agents):
    server = start_live_server(tmp_path)
    try:
        center = server.new_center()
        tickets = [server.issue(center, "pension-new") for _ in range(3)]
        led, button = ptys(), ptys()
        agent = agents(server, center, led, f"serial://{button.path}")
        agent.wait_for("button .*: ready")
        assert led.next_line() == "CLEAR"
        button.write(b"N\r\n")
        assert led.next_line() == f"SHOW {tickets[0]['number']}"

        port = urlsplit(server.url).port
        server.stop()
        mark = agent.wait_for("live channel: disconnected")
        agent.wait_for("live channel: cannot connect", after=mark)  # and keeps trying

        # While the server is down the queue moves on (straight in its database, so
        # nothing announces it): the agent learns it from its snapshot on reconnect.
        db = Database(server.database_url)
        with db.write() as s:
            user = s.scalars(
                sql_select(StaffUser).where(StaffUser.username == center.staff_username)
            ).one()
            queue.start(s, tickets[0]["id"], staff_actor(user))
            queue.call_next(s, center.counters["1"], staff_actor(user))
        db.dispose()

        server = start_live_server(tmp_path, database_url=server.database_url, port=port)
        assert led.next_line() == f"SHOW {tickets[1]['number']}"
        agent.wait_for("connected as .*current ticket " + tickets[1]["number"], after=mark)

        # And the button calls through the restarted server.
        act(server, center, tickets[1], "start")
        button.write(b"N\r\n")
        assert led.next_line() == f"SHOW {tickets[2]['number']}"
        assert status(server, tickets[2]) == ("called", "1")
        assert agent.stop() == 0, agent.log()  # before the server, which waits for open sockets
    finally:
        server.stop()


def test_the_command_refuses_bad_device_strings(live_server, live_center):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "counter-agent",
            "--server",
            live_server.url,
            "--counter",
            "1",
            "--token",
            live_center.staff_token,
            "--led",
            "tcp://10.0.0.5",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=WAIT,
    )
    assert result.returncode != 0
    assert "must start with serial://" in result.stderr
    assert "serial:///dev/ttyUSB0" in result.stderr
