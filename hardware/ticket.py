"""What a printed queue ticket says, and in which order.

A :class:`TicketPrint` holds everything the kiosk prints for one visitor. :func:`layout` turns
it into a short list of blocks (text, the big number, a rule, the QR code) in the visitor's
language; :mod:`hardware.escpos_render` turns those blocks into ESC/POS bytes for a given
printer profile and paper width. The few printed words live here, in az, ru and en.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LANGUAGES = ("az", "ru", "en")
PAPER_WIDTHS_MM = (58, 80)

# The printed words. Keep them short: a 58 mm ticket has 32 columns.
TEXTS: dict[str, dict[str, str]] = {
    "your_number": {"az": "Sizin nömrəniz", "ru": "Ваш номер", "en": "Your number"},
    "position": {
        "az": "Növbədə yeriniz: {n}",
        "ru": "Ваше место в очереди: {n}",
        "en": "Your place in line: {n}",
    },
    "wait": {
        "az": "Təxmini gözləmə: {wait}",
        "ru": "Примерное ожидание: {wait}",
        "en": "Estimated wait: {wait}",
    },
    "scan": {
        "az": "Növbənizi telefonda izləmək üçün QR kodu skan edin",
        "ru": "Отсканируйте QR-код, чтобы следить за очередью на телефоне",
        "en": "Scan the QR code to follow your turn on your phone",
    },
    "help": {
        "az": "Nömrəniz zaldakı ekranlarda çağırılacaq.",
        "ru": "Ваш номер вызовут на экранах в зале.",
        "en": "Your number will be called on the screens in the hall.",
    },
    "under_a_minute": {"az": "1 dəqiqədən az", "ru": "меньше минуты", "en": "under a minute"},
    "minutes": {"az": "~{m} dəq", "ru": "~{m} мин", "en": "~{m} min"},
    "hours": {"az": "~{h} saat {m} dəq", "ru": "~{h} ч {m} мин", "en": "~{h} h {m} min"},
}

DATE_FORMAT = "%d.%m.%Y  %H:%M"


def text(key: str, language: str, **values: object) -> str:
    """One printed phrase in ``language`` (az, ru or en), with ``{placeholders}`` filled in."""
    phrase = TEXTS[key].get(language) or TEXTS[key]["en"]
    return phrase.format(**values) if values else phrase


def format_wait(seconds: int, language: str) -> str:
    """An estimated wait as printed: ``~12 min``, ``~1 h 05 min``, ``under a minute``."""
    if seconds < 60:
        return text("under_a_minute", language)
    minutes = round(seconds / 60)
    if minutes < 60:
        return text("minutes", language, m=minutes)
    return text("hours", language, h=minutes // 60, m=f"{minutes % 60:02d}")


@dataclass(frozen=True, kw_only=True)
class TicketPrint:
    """Everything printed on one ticket.

    ``issued_at`` must be timezone-aware; it is printed in the center's local time
    (``timezone``, an IANA name such as ``Asia/Baku``). ``language`` is the visitor's (az, ru
    or en; anything else prints in English). ``service_name`` is already in that language.
    """

    center_name: str
    number: str
    service_name: str
    language: str
    issued_at: datetime
    timezone: str
    phone_url: str
    position: int | None = None
    estimated_wait_s: int | None = None
    paper_mm: int = 80

    def __post_init__(self) -> None:
        if self.issued_at.tzinfo is None or self.issued_at.utcoffset() is None:
            raise ValueError("TicketPrint.issued_at must be timezone-aware")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {self.timezone!r}") from exc
        if self.paper_mm not in PAPER_WIDTHS_MM:
            raise ValueError(f"paper_mm must be 58 or 80, not {self.paper_mm!r}")
        if not self.number.strip():
            raise ValueError("TicketPrint.number must not be empty")

    @property
    def lang(self) -> str:
        """The language the ticket is printed in (unknown languages print in English)."""
        return self.language if self.language in LANGUAGES else "en"

    @property
    def local_issued_at(self) -> datetime:
        return self.issued_at.astimezone(ZoneInfo(self.timezone))


# Blocks of a ticket, rendered top to bottom, centered.


@dataclass(frozen=True)
class Text:
    """A paragraph, wrapped to the paper width. ``scale`` multiplies the glyph size."""

    text: str
    scale: int = 1
    bold: bool = False


@dataclass(frozen=True)
class Number:
    """The ticket number: the biggest type that fits the paper."""

    text: str


@dataclass(frozen=True)
class Rule:
    """A thin separating line."""


@dataclass(frozen=True)
class Qr:
    data: str


Block = Text | Number | Rule | Qr


def layout(ticket: TicketPrint) -> list[Block]:
    """The ticket's blocks in print order (the same for 58 and 80 mm; the renderer sizes them)."""
    lang = ticket.lang
    blocks: list[Block] = [
        Text(ticket.center_name, scale=2, bold=True),
        Rule(),
        Text(text("your_number", lang)),
        Number(ticket.number.strip()),
        Text(ticket.service_name, bold=True),
        Text(ticket.local_issued_at.strftime(DATE_FORMAT)),
    ]
    if ticket.position is not None:
        blocks.append(Text(text("position", lang, n=ticket.position)))
    if ticket.estimated_wait_s is not None:
        wait = format_wait(ticket.estimated_wait_s, lang)
        blocks.append(Text(text("wait", lang, wait=wait)))
    blocks += [
        Rule(),
        Qr(ticket.phone_url),
        Text(text("scan", lang)),
        Text(text("help", lang)),
    ]
    return blocks
