"""What the live channel sends. Public shapes (everything a display, kiosk or phone
can see) carry ticket numbers, services and counter labels only: no ticket ids, no
priority class, no staff names. Staff shapes reuse the API's ticket JSON.
See docs/realtime.md for every event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import printing
from ..models import WAITING, Center, Counter, Device, Service, Ticket, utcnow
from ..queue import Actor, business_day, current_ticket, queue_stats
from ..serializers import iso, public_ticket_json, ticket_json

RECENT_CALLS = 10
CALL_ACTIONS = ("call", "call_out_of_order", "recall")


def center_json(center: Center) -> dict:
    return {
        "code": center.code,
        "name": center.name,
        "timezone": center.timezone,
        "opens_at": center.opens_at.strftime("%H:%M"),
        "closes_at": center.closes_at.strftime("%H:%M"),
        "priority_classes": list(center.priority_classes),
        "recalls_before_no_show": center.recalls_before_no_show,
    }


def catalog_json(center: Center) -> list[dict]:
    """Categories with their active services, in display order."""
    return [
        {
            "code": category.code,
            "name": category.name,
            "services": [
                {"code": s.code, "prefix": s.prefix, "name": s.name}
                for s in category.services
                if s.active
            ],
        }
        for category in center.categories
        if any(s.active for s in category.services)
    ]


def called_json(ticket: Ticket) -> dict:
    """``ticket.called``: enough to show and announce a call, nothing personal."""
    return {
        "number": ticket.display_number,
        "counter": ticket.counter.label if ticket.counter else None,
        "service": ticket.service.code,
        "service_name": ticket.service.name,
        "language": ticket.language,
        "recall_count": ticket.recall_count,
        "called_at": iso(ticket.last_called_at),
    }


def issued_json(ticket: Ticket) -> dict:
    return {
        "number": ticket.display_number,
        "service": ticket.service.code,
        "language": ticket.language,
        "created_at": iso(ticket.issued_at),
    }


def updated_json(ticket: Ticket, action: str) -> dict:
    return {
        "number": ticket.display_number,
        "service": ticket.service.code,
        "status": ticket.status,
        "action": action,
        "counter": ticket.counter.label if ticket.counter else None,
    }


def counter_state_json(counter: Counter) -> dict:
    """A counter's state and services, no visitor in it (webhooks send this much)."""
    return {
        "id": counter.id,
        "label": counter.label,
        "state": counter.state,
        "pause_reason": counter.pause_reason,
        "state_since": iso(counter.state_since),
        "services": [link.service_id for link in counter.service_links],
    }


def counter_json(session: Session, counter: Counter) -> dict:
    """A counter, its current visitor, the visitors it parked (to resume them) and how
    many wait for it by name, as the counter screen shows them."""
    ticket = current_ticket(session, counter.id)
    parked = session.scalars(
        select(Ticket)
        .where(Ticket.counter_id == counter.id, Ticket.status == "parked")
        .order_by(Ticket.started_at, Ticket.id)
    ).all()
    waiting_here = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(WAITING, Ticket.target_counter_id == counter.id)
    )
    return {
        **counter_state_json(counter),
        "ticket": ticket_json(session, ticket) if ticket else None,
        "parked": [ticket_json(session, t) for t in parked],
        "waiting_for_counter": waiting_here,
    }


def stats_json(session: Session, center: Center, now: datetime | None = None) -> dict:
    stats = queue_stats(session, center, now)
    stats["at"] = iso(now or utcnow())
    return stats


def recent_calls(
    session: Session, center: Center, now: datetime | None = None, settings: dict | None = None
) -> list[dict]:
    """Today's latest calls, newest first, for a display that has just (re)connected;
    only those at the counters and of the services its settings name, if any."""
    today = business_day(center, now or utcnow())
    query = (
        select(Ticket)
        .where(
            Ticket.center_id == center.id,
            Ticket.business_day == today,
            Ticket.last_called_at.is_not(None),
            Ticket.counter_id.is_not(None),
        )
        .order_by(Ticket.last_called_at.desc())
        .limit(RECENT_CALLS)
    )
    settings = settings or {}
    if isinstance(settings.get("counters"), list):
        labels = [str(label) for label in settings["counters"]]
        query = query.join(Counter, Counter.id == Ticket.counter_id).where(
            Counter.label.in_(labels)
        )
    if isinstance(settings.get("services"), list):
        codes = [str(code) for code in settings["services"]]
        query = query.join(Service, Service.id == Ticket.service_id).where(Service.code.in_(codes))
    return [called_json(ticket) for ticket in session.scalars(query)]


def device_snapshot(session: Session, center: Center, actor: Actor) -> dict:
    device = session.get(Device, actor.device_id)
    now = utcnow()
    return {
        "kind": device.kind,
        "device": device.name,
        "settings": _public_settings(device.settings or {}),
        "center": center_json(center),
        "catalog": catalog_json(center),
        "stats": stats_json(session, center, now),
        "recent_calls": recent_calls(session, center, now, device.settings),
        "printer": printing.printer_json(device),  # None for a display
        "at": iso(now),
    }


def agent_snapshot(session: Session, device: Device, pending: list[Ticket], base_url: str) -> dict:
    """What a kiosk's print agent gets at each connect: its printer as the server knows
    it and the jobs still waiting for paper (see server/printing.py)."""
    return {
        "kind": "agent",
        "device": device.name,
        "center": {"code": device.center.code, "name": device.center.name},
        "printer": printing.printer_json(device),
        "pending": [printing.print_job(session, ticket, base_url) for ticket in pending],
        "at": iso(utcnow()),
    }


def staff_snapshot(session: Session, center: Center, counter: Counter | None, actor: Actor) -> dict:
    now = utcnow()
    return {
        "kind": "counter" if counter else "center",
        "user": {"username": actor.name, "role": actor.role},
        "center": center_json(center),
        "catalog": catalog_json(center),
        "services": [
            {"id": s.id, "code": s.code, "prefix": s.prefix, "name": s.name, "active": s.active}
            for s in center.services
        ],
        "counter": counter_json(session, counter) if counter else None,
        "stats": stats_json(session, center, now),
        "recent_calls": recent_calls(session, center, now),
        "printers": printers_json(session, center),
        "at": iso(now),
    }


def printers_json(session: Session, center: Center) -> list[dict]:
    """The center's kiosks' printers, as ``printer.status`` sends them (for managers)."""
    kiosks = session.scalars(
        select(Device)
        .where(Device.center_id == center.id, Device.kind == "kiosk")
        .order_by(Device.name)
    )
    return [printing.printer_json(device) for device in kiosks]


def visitor_snapshot(session: Session, ticket: Ticket) -> dict:
    return {
        "kind": "ticket",
        "center": {"code": ticket.service.center.code, "name": ticket.service.center.name},
        "ticket": public_ticket_json(session, ticket),
        "at": iso(utcnow()),
    }


# Device settings a screen may see (a printer address or secret stays on the server).
PUBLIC_SETTINGS = ("counters", "services", "language", "voice", "idle_seconds", "orientation")


def _public_settings(settings: dict) -> dict:
    return {key: settings[key] for key in PUBLIC_SETTINGS if key in settings}


def public_settings(device: Device) -> dict:
    return _public_settings(device.settings or {})


def network_row(center: Center, stats: dict, public: dict) -> dict:
    """A center's row of the network admins' all-centers view (``network.center``):
    its live queue from ``stats_json`` and today's service level from the public
    figures of the same pass."""
    rows = [row for row in stats["services"] if row["active"]]
    return {
        "center": center.code,
        "name": center.name,
        "waiting": sum(row["waiting"] for row in rows),
        "longest_wait_s": max((row["longest_wait_s"] for row in rows), default=0),
        "over_target": any(row["longest_wait_s"] > row["target_wait_min"] * 60 for row in rows),
        "service_level": public["today"]["service_level"],
        "called": public["today"]["called"],
        "at": public["at"],
    }
