"""Ticket numbers: per center, per prefix, per local day of the center, with no gaps.

The counter row is bumped with one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``
inside the issuing transaction. Concurrent kiosks queue on that row (PostgreSQL)
or on the database write lock (SQLite), and a rolled-back issue rolls its number
back too, so numbers have neither duplicates nor gaps. The unique constraint on
(center, prefix, day, number) in ``tickets`` is the last line of defence.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import Center, TicketSequence


def business_day(center: Center, at: datetime) -> date:
    """The center's local calendar day at instant ``at``; numbering resets at local midnight."""
    return local_day(center.timezone, at)


def local_day(timezone: str, at: datetime) -> date:
    """The calendar day at instant ``at`` in ``timezone``."""
    return at.astimezone(ZoneInfo(timezone)).date()


def next_number(session: Session, center_id: int, prefix: str, day: date) -> int:
    """Bump and return the (center, prefix, day) counter, on the session's connection
    (Core: no unit of work is involved)."""
    conn = session.connection()
    params = {"center_id": center_id, "prefix": prefix, "business_day": day}
    return conn.execute(_bump_statement(conn.dialect.name), params).scalar_one()


@lru_cache(maxsize=4)
def _bump_statement(dialect: str):
    """Built once per dialect: building the expression costs more than running it."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(TicketSequence).values(
        center_id=bindparam("center_id", type_=TicketSequence.center_id.type),
        prefix=bindparam("prefix", type_=TicketSequence.prefix.type),
        business_day=bindparam("business_day", type_=TicketSequence.business_day.type),
        last_number=1,
    )
    return stmt.on_conflict_do_update(
        index_elements=["center_id", "prefix", "business_day"],
        set_={"last_number": TicketSequence.last_number + 1},
    ).returning(TicketSequence.last_number)
