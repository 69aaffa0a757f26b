"""Who performs an action: recorded in the audit log, checked by ``server.auth``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    kind: str  # "staff", "device" or "system"
    id: int | None = None
    center_id: int | None = None  # None for network-wide admins and the system
    role: str | None = None  # staff role, or the device kind ("kiosk", "display")
    name: str = ""

    @property
    def staff_id(self) -> int | None:
        return self.id if self.kind == "staff" else None

    @property
    def device_id(self) -> int | None:
        return self.id if self.kind == "device" else None

    @property
    def idempotency_scope(self) -> str:
        return f"{self.kind}:{self.id}"


SYSTEM = Actor(kind="system", name="system")
