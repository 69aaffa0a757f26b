"""Loopback printers: an :class:`~hardware.loopback_printer.decoder.EscPosDecoder` behind
a connection, as a real printer's would be.

:class:`LoopbackPrinter` listens on 127.0.0.1 (port 9100's protocol: raw bytes over TCP;
``url`` is ``tcp://127.0.0.1:PORT``); :class:`LoopbackSerialPrinter` sits on the far end
of a pseudo-terminal (``url`` is ``serial:///dev/pts/N?baudrate=B``). Use them as context
managers; ``set(...)`` changes the acted-out faults while they run.

Both act out ``paper_out``, ``paper_low``, ``cover_open``, ``cutter_error`` (see
:mod:`~hardware.loopback_printer.faults`) and ``slow`` (seconds before it reads or answers
anything); the network one also ``drop_after`` (closes the connection after that many
bytes, with a reset, as a printer switched off mid-ticket looks) and ``offline`` (nothing
listens on the port: connections are refused).

Invariants:

* Each connection has its own decoder (as a printer resets between connections); what it
  completes shows in ``jobs``, ``discarded``, ``errors`` and ``status_queries`` at once,
  and what came after its last cut lands in ``unfinished`` when it closes.
* ``received`` is every byte taken, across connections; ``connections`` counts them.
* ``stop()`` ends every thread it started (within 5 s each).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import threading
import time
import tty

from .decoder import EscPosDecoder
from .faults import PrinterState
from .paper import Job


class _LoopbackBase:
    """What both loopback printers share: the state, the decoded jobs, the acted-out faults."""

    def __init__(
        self,
        *,
        code_pages: dict[int, str] | None = None,
        paper_out: bool = False,
        paper_low: bool = False,
        cover_open: bool = False,
        cutter_error: bool = False,
        slow: float = 0.0,
        drop_after: int | None = None,
    ) -> None:
        self.code_pages = code_pages
        self.state = PrinterState(paper_out, paper_low, cover_open, cutter_error)
        self.slow = slow
        self.drop_after = drop_after
        self.jobs: list[Job] = []
        self.discarded: list[Job] = []
        self.unfinished: list[Job] = []  # what a connection sent after its last cut
        self.errors: list[str] = []
        self.status_queries: list[int] = []
        self.received = bytearray()
        self.connections = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def set(self, **changes: object) -> None:
        """Change the simulated state: paper_out, paper_low, cover_open, cutter_error, slow,
        drop_after."""
        for name, value in changes.items():
            if hasattr(self.state, name):
                setattr(self.state, name, value)
            elif name in ("slow", "drop_after"):
                setattr(self, name, value)
            else:
                raise AttributeError(name)

    def _decoder(self) -> EscPosDecoder:
        return EscPosDecoder(self.code_pages, self.state)

    def _feed(self, decoder: EscPosDecoder, data: bytes) -> bytes:
        """Decode ``data``; what it completed shows in the printer's lists at once."""
        answer = decoder.feed(data)
        self._absorb(decoder)
        return answer

    def _absorb(self, decoder: EscPosDecoder, unfinished: Job | None = None) -> None:
        with self._lock:
            self.jobs += decoder.jobs
            self.discarded += decoder.discarded
            self.errors += decoder.errors
            self.status_queries += decoder.status_queries
            if unfinished:
                self.unfinished.append(unfinished)
        for done in (decoder.jobs, decoder.discarded, decoder.errors, decoder.status_queries):
            done.clear()

    def _collect(self, decoder: EscPosDecoder) -> None:
        """The connection ended: keep what came after the last cut as unfinished."""
        unfinished = decoder.finish()
        self._absorb(decoder, unfinished)

    def _pause(self) -> None:
        if self.slow:
            self._stopping.wait(self.slow)

    def printed(self) -> list[Job]:
        """The tickets printed so far, in order (a copy)."""
        with self._lock:
            return list(self.jobs)

    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> list[Job]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.jobs) >= count:
                    return list(self.jobs)
            time.sleep(0.01)
        raise AssertionError(f"{len(self.jobs)} jobs printed, expected {count}")

    def _start_thread(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="loopback-printer")
        thread.start()
        self._threads.append(thread)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


class LoopbackPrinter(_LoopbackBase):
    """An ESC/POS printer on 127.0.0.1 (a raw TCP port, like port 9100 on a real one).

    ``offline=True`` refuses connections (nothing listens on the port)."""

    def __init__(self, *, offline: bool = False, **options) -> None:
        super().__init__(**options)
        self.port = 0
        self._listener: socket.socket | None = None
        self._offline = offline
        self._clients: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def offline(self) -> bool:
        return self._offline

    def set(self, **changes: object) -> None:
        if "offline" in changes:
            offline = bool(changes.pop("offline"))
            if offline != self._offline:
                self._offline = offline
                self._close_listener() if offline else self._listen()
        super().set(**changes)

    def start(self) -> None:
        if self.port == 0 or not self._offline:
            self._listen()
        if self._offline:
            self._close_listener()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(8)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._start_thread(self._accept, listener)

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._clients.add(client)
            self._start_thread(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        decoder = self._decoder()
        taken = 0
        try:
            client.settimeout(0.2)
            while not self._stopping.is_set():
                try:
                    data = client.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                self._pause()
                if self.drop_after is not None and taken + len(data) > self.drop_after:
                    data = data[: max(0, self.drop_after - taken)]
                    with self._lock:
                        self.received += data
                    self._feed(decoder, data)
                    # Close with a reset, as a printer switched off mid-ticket would look.
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
                taken += len(data)
                with self._lock:
                    self.received += data
                answer = self._feed(decoder, data)
                if answer:
                    client.sendall(answer)
        except OSError:
            pass
        finally:
            with self._lock:
                self._clients.discard(client)
            client.close()
            self._collect(decoder)

    def stop(self) -> None:
        self._stopping.set()
        self._close_listener()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)


class LoopbackSerialPrinter(_LoopbackBase):
    """An ESC/POS printer on the far end of a pseudo-terminal: ``url`` is serial://..."""

    def __init__(self, baudrate: int = 19200, **options) -> None:
        super().__init__(**options)
        self.baudrate = baudrate
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no line editing: bytes pass as they are
        self.device = os.ttyname(self.slave)

    @property
    def url(self) -> str:
        return f"serial://{self.device}?baudrate={self.baudrate}"

    def start(self) -> None:
        self._start_thread(self._serve)

    def _serve(self) -> None:
        decoder = self._decoder()
        while not self._stopping.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                break
            if not data:
                break
            self._pause()
            with self._lock:
                self.received += data
            answer = self._feed(decoder, data)
            if answer:
                os.write(self.master, answer)
        self._collect(decoder)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
