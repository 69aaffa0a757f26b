"""``file://``: a device file (``/dev/usb/lp0``) or a plain file, written without blocking.

A path under ``/dev/`` is never created (a missing device is "offline"); any other path is
created, so a ticket can be written to a file to look at. The printer is not asked how it
is: :func:`file_status` says only whether the path can be written.
"""

from __future__ import annotations

import errno
import os
import select
import time

from ..addresses import PrinterSpec
from ..status import PrintError, PrinterStatus
from .base import WRITE_CHUNK, Link, log


class FileLink(Link):
    def __init__(self, spec: PrinterSpec, timeout: float) -> None:
        self.spec = spec
        self.timeout = timeout
        path = spec.device or ""
        flags = os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        if not path.startswith("/dev/"):
            flags |= os.O_CREAT  # a plain file (tests, previews); never create device nodes
        try:
            self.fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise file_error(spec, exc) from None

    def write(self, data: bytes) -> None:
        """Write it all; PrintError("timeout") when the device takes nothing for the time-out."""
        view = memoryview(data)
        deadline = time.monotonic() + self.timeout
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PrintError(
                    "timeout", f"{self.spec.label} took no data for {self.timeout:g} s"
                )
            _, ready, _ = select.select([], [self.fd], [], remaining)
            if not ready:
                continue
            try:
                written = os.write(self.fd, view[:WRITE_CHUNK])
            except BlockingIOError:
                continue
            except OSError as exc:
                raise PrintError("disconnected", f"{self.spec.label}: {exc.strerror}") from None
            view = view[written:]
            deadline = time.monotonic() + self.timeout

    def close(self, discard: bool = False) -> None:
        try:
            os.close(self.fd)
        except OSError:
            log.debug("closing %s failed", self.spec.label, exc_info=True)


def file_error(spec: PrinterSpec, exc: OSError) -> PrintError:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PrintError(
            "permission", f"{spec.label}: permission denied (add the user to the lp group)"
        )
    if exc.errno in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return PrintError("offline", f"{spec.label}: no such device (unplugged or switched off?)")
    return PrintError("offline", f"{spec.label}: {exc.strerror}")


def file_status(spec: PrinterSpec) -> PrinterStatus:
    """Online when the path can be written (a missing device is offline); paper unknown."""
    path = spec.device or ""
    if path.startswith("/dev/") and not os.path.exists(path):
        error = file_error(spec, OSError(errno.ENOENT, "no such file"))
        return PrinterStatus(online=False, error=error.message, reason=error.reason)
    target = path if os.path.exists(path) else os.path.dirname(path)
    if not os.access(target, os.W_OK):
        error = file_error(spec, OSError(errno.EACCES, "permission denied"))
        return PrinterStatus(online=False, error=error.message, reason=error.reason)
    return PrinterStatus(online=True)
