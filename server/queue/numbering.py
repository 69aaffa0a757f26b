"""Ticket numbers: per center, per prefix, per local day of the center, with no gaps.

The counter row is bumped with one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``
inside the issuing transaction. Concurrent kiosks queue on that row (PostgreSQL)
or on the database write lock (SQLite), and a rolled-back issue rolls its number
back too, so numbers have neither duplicates nor gaps. The unique constraint on
(center, prefix, day, number) in ``tickets`` is the last line of defence.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import Center, TicketSequence


def business_day(center: Center, at: datetime) -> date:
    """The center's local calendar day at instant ``at``; numbering resets at local midnight."""
    return at.astimezone(ZoneInfo(center.timezone)).date()


def next_number(session: Session, center_id: int, prefix: str, day: date) -> int:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(TicketSequence).values(
        center_id=center_id, prefix=prefix, business_day=day, last_number=1
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["center_id", "prefix", "business_day"],
        set_={"last_number": TicketSequence.last_number + 1},
    ).returning(TicketSequence.last_number)
    return session.execute(stmt).scalar_one()
