"""A booking as an iCalendar file (RFC 5545) the visitor adds to their calendar.

One VEVENT: UID, DTSTAMP, DTSTART/DTEND in UTC, SUMMARY (service and center in the
booking's language), LOCATION, and the code in DESCRIPTION. Lines end in CRLF and are
folded at 75 octets (never inside a UTF-8 character); text values are escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..models import Appointment, Center, Service

# The file's few words, in the booking's language.
WORDS = {
    "az": {"code": "Növbə kodu", "show": "Kodu kioskda daxil edin: {early} dəqiqə əvvəldən"},
    "ru": {"code": "Код записи", "show": "Введите код в киоске: не раньше чем за {early} мин"},
    "en": {"code": "Booking code", "show": "Enter the code at the kiosk from {early} min before"},
}


def escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> bytes:
    """One content line, folded: at most 75 octets per physical line, continuation lines
    starting with a space (which counts), cut only between characters."""
    out: list[bytes] = []
    current = b""
    limit = 75
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > limit:
            out.append(current)
            current = b" "
            limit = 75
        current += encoded
    out.append(current)
    return b"\r\n".join(out) + b"\r\n"


def utc_stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _name(names: dict, language: str) -> str:
    return names.get(language) or names.get("az") or next(iter(names.values()), "")


def calendar_file(
    appointment: Appointment, center: Center, service: Service, *, host: str, now: datetime
) -> bytes:
    lang = appointment.language
    words = WORDS.get(lang, WORDS["en"])
    center_name = _name(center.name, lang)
    service_name = _name(service.name, lang)
    end = appointment.start + timedelta(minutes=service.slot_min)
    description = f"{words['code']}: {appointment.code}\n" + words["show"].replace(
        "{early}", str(service.checkin_early_min)
    )
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Novbe//Appointments//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:appointment-{appointment.id}-{appointment.code}@{host}",
        f"DTSTAMP:{utc_stamp(now)}",
        f"DTSTART:{utc_stamp(appointment.start)}",
        f"DTEND:{utc_stamp(end)}",
        f"SUMMARY:{escape(f'{service_name} — {center_name}')}",
        f"LOCATION:{escape(center_name)}",
        f"DESCRIPTION:{escape(description)}",
        "STATUS:CANCELLED" if appointment.state == "cancelled" else "STATUS:CONFIRMED",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return b"".join(fold(line) for line in lines)
