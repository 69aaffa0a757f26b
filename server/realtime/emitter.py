"""How the live channel's listeners send: one small interface, so that tests can record
what would go out instead of running Socket.IO.

``emit(event, data, room)`` goes to the room's clients on every server process (through
the message queue when there is one); ``local=True`` only to this process's own (what
each process computes for its own connections, such as visitors' positions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from flask_socketio import SocketIO

from .rooms import NAMESPACE


class Emitter:
    def emit(self, event: str, data: dict, room: str | list[str], local: bool = False) -> None:
        raise NotImplementedError

    def background(self, target: Callable[..., Any], *args: Any) -> None:
        """Run ``target`` apart from the caller (never inside a request)."""
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        raise NotImplementedError


class SocketEmitter(Emitter):
    def __init__(self, socketio: SocketIO) -> None:
        self.socketio = socketio

    def emit(self, event: str, data: dict, room: str | list[str], local: bool = False) -> None:
        self.socketio.emit(event, data, to=room, namespace=NAMESPACE, ignore_queue=local)

    def background(self, target: Callable[..., Any], *args: Any) -> None:
        self.socketio.start_background_task(target, *args)

    def sleep(self, seconds: float) -> None:
        self.socketio.sleep(seconds)


class Sent(NamedTuple):
    event: str
    data: dict
    room: str | list[str]
    local: bool


class RecordingEmitter(Emitter):
    """Keeps what would be sent, in order; background work runs at once (tests)."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    def emit(self, event: str, data: dict, room: str | list[str], local: bool = False) -> None:
        self.sent.append(Sent(event, data, room, local))

    def background(self, target: Callable[..., Any], *args: Any) -> None:
        target(*args)

    def sleep(self, seconds: float) -> None:
        pass

    def named(self, event: str) -> list[Sent]:
        return [sent for sent in self.sent if sent.event == event]
