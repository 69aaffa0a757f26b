"""What a printed queue ticket says, and in which order.

A :class:`TicketPrint` holds everything the kiosk prints for one visitor. :func:`layout` turns
it into a short list of blocks (text, the big number, a rule, the QR code) in the visitor's
language; :mod:`hardware.escpos_render` turns those blocks into ESC/POS bytes for a given
printer profile and paper width. The few printed words are a gettext domain of their own,
``hardware/translations/`` (az, ru and en), read with the screens' catalogs (server/i18n).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LANGUAGES = ("az", "ru", "en")
PAPER_WIDTHS_MM = (58, 80)

# The printed words: a gettext domain (server/i18n) in hardware/translations/. Keep them
# short: a 58 mm ticket has 32 columns.
TRANSLATIONS = Path(__file__).with_name("translations")
# Code pages have no narrow or no-break spaces (CLDR's Russian date has one: "2026 г.").
PLAIN_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})


def printed_words(language: str):
    """The printed words in ``language``: ``words("ticket.scan")``,
    ``words.plural("ticket.minutes", 13)`` (named ``words`` where they are used, which
    is how ``make words`` finds the keys)."""
    from server.i18n import Words  # the catalogs' reader, imported when a ticket is laid out

    return Words(TRANSLATIONS, language)


def format_wait(seconds: int, language: str) -> str:
    """An estimated wait as printed: ``~13 minutes``, ``~1 h 05 min``, ``under a minute``."""
    words = printed_words(language)
    if seconds < 60:
        return words("ticket.under_a_minute")
    minutes = round(seconds / 60)
    if minutes < 60:
        return words.plural("ticket.minutes", minutes)
    return words("ticket.hours", h=minutes // 60, m=f"{minutes % 60:02d}")


def issued(ticket: TicketPrint) -> str:
    """When the ticket was issued, in the center's time, as the language writes it."""
    from server.i18n import formats

    return formats.date_time(ticket.local_issued_at, ticket.lang).translate(PLAIN_SPACES)


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
    # How the ticket came to be (server/models/tickets.py TICKET_KINDS): an "outside"
    # ticket says to wait outside, an "appointment" one prints its slot's start.
    kind: str = "walk_in"
    appointment_at: datetime | None = None

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
    words = printed_words(lang)
    blocks: list[Block] = [
        Text(ticket.center_name, scale=2, bold=True),
        Rule(),
        Text(words("ticket.your_number")),
        Number(ticket.number.strip()),
        Text(ticket.service_name, bold=True),
        Text(issued(ticket)),
    ]
    if ticket.position is not None:
        blocks.append(Text(words("ticket.position", n=ticket.position)))
    if ticket.estimated_wait_s is not None:
        wait = format_wait(ticket.estimated_wait_s, lang)
        blocks.append(Text(words("ticket.wait", wait=wait)))
    if ticket.kind == "outside":
        blocks.append(Text(words("ticket.outside"), bold=True))
    elif ticket.kind == "appointment" and ticket.appointment_at is not None:
        at = ticket.appointment_at.astimezone(ZoneInfo(ticket.timezone)).strftime("%H:%M")
        blocks.append(Text(words("ticket.appointment", time=at), bold=True))
    blocks += [
        Rule(),
        Qr(ticket.phone_url),
        Text(words("ticket.scan")),
        Text(words("ticket.help")),
    ]
    return blocks
