"""``serial://``: a printer on a serial port, through python-escpos's ``Serial`` (pyserial)."""

from __future__ import annotations

import errno
import time
from typing import Any

from escpos.exceptions import DeviceNotFoundError

from ..addresses import DEFAULT_BAUDRATE, PrinterSpec
from ..status import DLE_EOT, PrintError, valid_status_byte
from .base import WRITE_CHUNK, Link, log


class SerialLink(Link):
    can_query = True

    def __init__(self, spec: PrinterSpec, profile: Any, timeout: float) -> None:
        import serial
        from escpos.printer import Serial

        self.serial_module = serial
        self.spec = spec
        self.timeout = timeout
        self.printer = Serial(
            devfile=spec.device, baudrate=spec.baudrate, timeout=timeout, profile=profile
        )
        try:
            self.printer.open()
        except DeviceNotFoundError as exc:
            cause = exc.__context__
            if getattr(cause, "errno", None) in (errno.EACCES, errno.EPERM):
                raise PrintError(
                    "permission",
                    f"{spec.label}: permission denied (add the user to the dialout group)",
                ) from None
            raise PrintError("offline", f"{spec.label} cannot be opened: {cause}") from None
        self.port = self.printer.device
        # Each piece may take its time on the wire (10 bits a byte) plus the time-out.
        baudrate = spec.baudrate or DEFAULT_BAUDRATE
        self.port.write_timeout = timeout + WRITE_CHUNK * 10 / baudrate * 1.5

    def write(self, data: bytes) -> None:
        try:
            for start in range(0, len(data), WRITE_CHUNK):
                self.port.write(data[start : start + WRITE_CHUNK])
        except self.serial_module.SerialTimeoutException:
            raise PrintError(
                "timeout", f"{self.spec.label} took no data for {self.timeout:g} s"
            ) from None
        except (self.serial_module.SerialException, OSError) as exc:
            raise PrintError("disconnected", f"{self.spec.label}: {exc}") from None

    def query(self, n: int) -> int | None:
        try:
            self.port.reset_input_buffer()
        except (self.serial_module.SerialException, OSError) as exc:
            raise PrintError("disconnected", f"{self.spec.label}: {exc}") from None
        self.write(DLE_EOT + bytes([n]))
        deadline = time.monotonic() + self.timeout
        while (remaining := deadline - time.monotonic()) > 0:
            self.port.timeout = remaining
            try:
                data = self.port.read(1)
            except (self.serial_module.SerialException, OSError) as exc:
                raise PrintError("disconnected", f"{self.spec.label}: {exc}") from None
            if not data:
                return None
            if valid_status_byte(data[0]):
                return data[0]
        return None

    def close(self, discard: bool = False) -> None:
        try:
            if discard and self.port.is_open:
                self.port.reset_output_buffer()
            self.printer.close()
        except (self.serial_module.SerialException, OSError):
            log.debug("closing %s failed", self.spec.label, exc_info=True)
