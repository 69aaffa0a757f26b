"""``usb://``: a USB printer, through python-escpos's ``Usb`` (pyusb), bulk endpoints."""

from __future__ import annotations

import errno
import importlib
from typing import Any

from escpos.exceptions import DeviceNotFoundError

from ..addresses import PrinterSpec
from ..status import DLE_EOT, PrintError, valid_status_byte
from .base import WRITE_CHUNK, Link, log

_ACCESS_DENIED = "access denied (install the udev rule, see docs/hardware.md)"


class UsbLink(Link):
    can_query = True

    def __init__(self, spec: PrinterSpec, profile: Any, timeout: float) -> None:
        import usb.core
        from escpos.printer import Usb

        self.usb = usb
        self.spec = spec
        self.timeout_ms = max(1, int(timeout * 1000))
        kwargs = {}
        if spec.in_ep is not None:
            kwargs["in_ep"] = spec.in_ep
        if spec.out_ep is not None:
            kwargs["out_ep"] = spec.out_ep
        self.printer = Usb(
            spec.vendor_id, spec.product_id, timeout=self.timeout_ms, profile=profile, **kwargs
        )
        try:
            self.printer.open()
        except DeviceNotFoundError as exc:
            self._raise_open_error(exc.__context__)
        self.device = self.printer.device
        if spec.in_ep is None or spec.out_ep is None:
            self._find_endpoints()

    def _raise_open_error(self, cause: BaseException | None) -> None:
        if getattr(cause, "errno", None) in (errno.EACCES, errno.EPERM):
            raise PrintError("permission", f"{self.spec.label}: {_ACCESS_DENIED}") from None
        raise PrintError(
            "offline", f"{self.spec.label} was not found (unplugged or switched off?)"
        ) from None

    def _find_endpoints(self) -> None:
        """Use the interface's bulk endpoints when the address does not name them."""
        util = importlib.import_module("usb.util")
        try:
            interface = self.device.get_active_configuration()[(0, 0)]
            for endpoint in interface:
                direction = util.endpoint_direction(endpoint.bEndpointAddress)
                if direction == util.ENDPOINT_OUT and self.spec.out_ep is None:
                    self.printer.out_ep = endpoint.bEndpointAddress
                elif direction == util.ENDPOINT_IN and self.spec.in_ep is None:
                    self.printer.in_ep = endpoint.bEndpointAddress
        except Exception:  # noqa: BLE001 - keep python-escpos's defaults
            log.debug("could not read the endpoints of %s", self.spec.label, exc_info=True)

    def _usb_error(self, exc: Exception) -> PrintError:
        if getattr(exc, "errno", None) in (errno.ETIMEDOUT,) or type(exc).__name__ == (
            "USBTimeoutError"
        ):
            return PrintError("timeout", f"{self.spec.label} did not answer in time")
        if getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM):
            return PrintError("permission", f"{self.spec.label}: {_ACCESS_DENIED}")
        return PrintError("disconnected", f"{self.spec.label}: {exc}")

    def write(self, data: bytes) -> None:
        try:
            for start in range(0, len(data), WRITE_CHUNK):
                chunk = data[start : start + WRITE_CHUNK]
                self.device.write(self.printer.out_ep, chunk, self.timeout_ms)
        except self.usb.core.USBError as exc:
            raise self._usb_error(exc) from None

    def query(self, n: int) -> int | None:
        try:
            self.device.write(self.printer.out_ep, DLE_EOT + bytes([n]), self.timeout_ms)
        except self.usb.core.USBError as exc:
            raise self._usb_error(exc) from None
        try:
            data = bytes(self.device.read(self.printer.in_ep, 16, self.timeout_ms))
        except self.usb.core.USBError as exc:
            error = self._usb_error(exc)
            if error.reason == "timeout":
                return None
            raise error from None
        return next((byte for byte in data if valid_status_byte(byte)), None)

    def close(self, discard: bool = False) -> None:
        try:
            self.printer.close()
        except Exception:  # noqa: BLE001 - the device may be gone already
            log.debug("closing %s failed", self.spec.label, exc_info=True)
