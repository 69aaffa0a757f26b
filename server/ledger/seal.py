"""Sealing a day: its chain head signed with the installation's key.

* A day is sealed once the center has closed (the serve loop's upkeep, every minute)
  and on demand (``novbe seal-ledger``, the admin API). A seal covers the entries the
  chain held at that moment; events that come later (a rating after closing) make the
  next round seal the day again, the last seal covering all.
* Seals of a center form a chain of their own (``previous``): the center's row is
  locked while one is made, so two processes sealing at once cannot fork it, and
  sealing the same head twice makes nothing new.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Center, LedgerHead, LedgerSeal, utcnow
from .canonical import GENESIS, seal_hash, seal_message
from .chain import iso_time
from .keys import public_key_text, sign


def seal_json(seal: LedgerSeal) -> dict:
    """A seal as the public ledger shows it and the verifier reads it."""
    return {
        "center": seal.center_code,
        "day": seal.day.isoformat(),
        "entries": seal.entries,
        "head": seal.head,
        "previous": seal.previous,
        "sealed_at": iso_time(seal.sealed_at),
        "public_key": seal.public_key,
        "signature": seal.signature,
    }


def last_seal(session: Session, center_id: int, day: date | None = None) -> LedgerSeal | None:
    """The center's latest seal (of ``day``, if given)."""
    query = select(LedgerSeal).where(LedgerSeal.center_id == center_id)
    if day is not None:
        query = query.where(LedgerSeal.day == day)
    return session.scalar(query.order_by(LedgerSeal.id.desc()).limit(1))


def seal_day(
    session: Session,
    center: Center,
    day: date,
    key: Ed25519PrivateKey,
    *,
    now: datetime | None = None,
) -> LedgerSeal | None:
    """Seal the center's chain for ``day`` as it stands; None when it holds no entry.
    The day's last seal when it already covers every entry."""
    now = now or utcnow()
    # Locked: seals of a center are made one at a time (their own chain).
    session.execute(select(Center.id).where(Center.id == center.id).with_for_update())
    head = session.get(LedgerHead, (center.id, day), populate_existing=True)
    if head is None or head.seq == 0:
        return None
    latest_of_day = last_seal(session, center.id, day)
    if latest_of_day is not None and latest_of_day.entries == head.seq:
        return latest_of_day
    before = last_seal(session, center.id)
    body = {
        "center": center.code,
        "day": day.isoformat(),
        "entries": head.seq,
        "head": head.hash,
        "previous": seal_hash(seal_json(before)) if before is not None else GENESIS,
        "sealed_at": iso_time(now),
    }
    seal = LedgerSeal(
        center_id=center.id,
        center_code=center.code,
        day=day,
        entries=head.seq,
        head=head.hash,
        previous=body["previous"],
        sealed_at=now,
        public_key=public_key_text(key),
        signature=sign(key, seal_message(body)),
    )
    session.add(seal)
    session.flush()
    return seal


def closed_days_to_seal(session: Session, now: datetime | None = None) -> list[tuple[Center, date]]:
    """Every (center, day) whose chain has entries no seal covers and whose day is over:
    an earlier day, or today after the center's closing time."""
    now = now or utcnow()
    sealed = (
        select(LedgerSeal.center_id, LedgerSeal.day, func.max(LedgerSeal.entries).label("entries"))
        .group_by(LedgerSeal.center_id, LedgerSeal.day)
        .subquery()
    )
    rows = session.execute(
        select(LedgerHead.center_id, LedgerHead.day)
        .outerjoin(
            sealed,
            (sealed.c.center_id == LedgerHead.center_id) & (sealed.c.day == LedgerHead.day),
        )
        .where(LedgerHead.seq > func.coalesce(sealed.c.entries, 0))
        .order_by(LedgerHead.center_id, LedgerHead.day)
    ).all()
    centers = {c.id: c for c in session.scalars(select(Center)).all()} if rows else {}
    due = []
    for center_id, day in rows:
        center = centers.get(center_id)
        if center is None:
            continue
        local = now.astimezone(ZoneInfo(center.timezone))
        if day < local.date() or (day == local.date() and local.time() >= center.closes_at):
            due.append((center, day))
    return due


def seal_closed_days(
    session: Session, key: Ed25519PrivateKey, now: datetime | None = None
) -> list[LedgerSeal]:
    now = now or utcnow()
    made = []
    for center, day in closed_days_to_seal(session, now):
        seal = seal_day(session, center, day, key, now=now)
        if seal is not None:
            made.append(seal)
    return made
