"""``tcp://``: a network printer's raw port (9100), through python-escpos's ``Network``."""

from __future__ import annotations

import time
from typing import Any

from escpos.exceptions import DeviceNotFoundError

from ..addresses import PrinterSpec
from ..status import DLE_EOT, PrintError, valid_status_byte
from .base import WRITE_CHUNK, Link


class NetworkLink(Link):
    can_query = True

    def __init__(self, spec: PrinterSpec, profile: Any, timeout: float) -> None:
        from escpos.printer import Network

        self.spec = spec
        self.timeout = timeout
        self.printer = Network(spec.host, spec.port, timeout=timeout, profile=profile)
        try:
            self.printer.open()
        except DeviceNotFoundError as exc:
            cause = exc.__context__
            if isinstance(cause, TimeoutError):
                raise PrintError(
                    "timeout", f"{spec.label} did not accept a connection within {timeout:g} s"
                ) from None
            if isinstance(cause, ConnectionRefusedError):
                raise PrintError("offline", f"{spec.label} refused the connection") from None
            raise PrintError("offline", f"{spec.label} cannot be reached: {cause}") from None
        self.sock = self.printer.device

    def write(self, data: bytes) -> None:
        # In pieces, each with the time-out: a printer that takes data slowly (printing as it
        # goes) is fine, one that takes none for the time-out is not.
        try:
            for start in range(0, len(data), WRITE_CHUNK):
                self.sock.settimeout(self.timeout)
                self.sock.sendall(data[start : start + WRITE_CHUNK])
        except TimeoutError:
            raise PrintError(
                "timeout", f"{self.spec.label} took no data for {self.timeout:g} s"
            ) from None
        except OSError as exc:
            raise PrintError(
                "disconnected", f"{self.spec.label} dropped the connection: {exc}"
            ) from None

    def query(self, n: int) -> int | None:
        self.write(DLE_EOT + bytes([n]))
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(16)
            except TimeoutError:
                return None
            except OSError as exc:
                raise PrintError(
                    "disconnected", f"{self.spec.label} dropped the connection: {exc}"
                ) from None
            if not data:
                raise PrintError("disconnected", f"{self.spec.label} closed the connection")
            for byte in data:
                if valid_status_byte(byte):
                    return byte

    def close(self, discard: bool = False) -> None:
        self.printer.close()
