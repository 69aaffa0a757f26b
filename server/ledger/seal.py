"""Sealing a day: its chain head signed with the installation's key.

* A day is sealed once the center has closed (the serve loop's upkeep, every minute)
  and on demand (``novbe seal-ledger``, the admin API). A seal covers the entries the
  chain held at that moment; events that come later (a rating after closing) make the
  next round seal the day again, the last seal covering all.
* Seals of a center form a chain of their own (``previous``): the center's row is
  locked while one is made, so two processes sealing at once cannot fork it, and
  sealing the same head twice makes nothing new.
* Nothing is signed that contradicts an earlier seal: every seal is also kept in a log
  beside the key (seal_log.py), and a database that lost one of them, or a day whose
  chain no longer holds a sealed head, is refused.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Center, LedgerEntry, LedgerHead, LedgerSeal, utcnow
from .canonical import GENESIS, seal_hash, seal_message
from .chain import iso_time
from .keys import public_key_text, sign, signature_holds
from .seal_log import SealLog

log_error = logging.getLogger(__name__).error


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


class SealRefused(Exception):
    """The database no longer holds what this installation sealed: not signed again."""


def seal_day(
    session: Session,
    center: Center,
    day: date,
    key: Ed25519PrivateKey,
    log: SealLog | None = None,
    *,
    now: datetime | None = None,
) -> LedgerSeal | None:
    """Seal the center's chain for ``day`` as it stands; None when it holds no entry.
    The day's last seal when it already covers every entry. With the installation's
    seal ``log``, first checks the database against it (:func:`check_against_log`);
    the caller appends the new seal to the log once its transaction has committed."""
    now = now or utcnow()
    # Locked: seals of a center are made one at a time (their own chain). Not a key
    # lock: a ticket inserted meanwhile (FOR KEY SHARE on its center) is not held up.
    session.execute(select(Center.id).where(Center.id == center.id).with_for_update(key_share=True))
    head = session.get(LedgerHead, (center.id, day), populate_existing=True)
    if head is None or head.seq == 0:
        return None
    if log is not None:
        check_against_log(session, center, day, key, log)
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


def check_against_log(
    session: Session, center: Center, day: date, key: Ed25519PrivateKey, log: SealLog
) -> None:
    """Refuse (SealRefused) when a seal of the log is gone from the database, or ``day``'s
    chain no longer holds a head the log says was sealed. A seal of the database the log
    lacks (its process died before appending it) is added to the log if this
    installation's key signed it, refused otherwise."""
    stored = [
        seal_json(s)
        for s in session.scalars(
            select(LedgerSeal).where(LedgerSeal.center_id == center.id).order_by(LedgerSeal.id)
        )
    ]
    logged = log.seals(center.code)
    in_database = {s["signature"] for s in stored}
    for seal in logged:
        if seal["signature"] not in in_database:
            raise SealRefused(
                f"the seal of {center.code} {seal['day']} over {seal['entries']} entries is in "
                f"the seal log ({log.path}) but gone from the database"
            )
    in_log = {s["signature"] for s in logged}
    public_key = key.public_key()
    recovered = []
    for seal in stored:
        if seal["signature"] in in_log:
            continue
        if not signature_holds(public_key, seal_message(seal), seal["signature"]):
            raise SealRefused(
                f"a seal of {center.code} {seal['day']} in the database was not made with this "
                "installation's key"
            )
        recovered.append(seal)
    log.append(recovered)
    for seal in logged + recovered:
        if seal["day"] != day.isoformat():
            continue
        sealed_head = session.scalar(
            select(LedgerEntry.hash).where(
                LedgerEntry.center_id == center.id,
                LedgerEntry.day == day,
                LedgerEntry.seq == seal["entries"],
            )
        )
        if sealed_head != seal["head"]:
            raise SealRefused(
                f"{center.code} {seal['day']} was sealed at {seal['entries']} entries with head "
                f"{seal['head'][:12]}…, and the chain no longer holds it: rewritten"
            )


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
    session: Session,
    key: Ed25519PrivateKey,
    log: SealLog | None = None,
    now: datetime | None = None,
) -> list[LedgerSeal]:
    """Seal every day that is over. A center whose seals or chain no longer match the
    log is left unsealed and logged as an error; the others are sealed."""
    now = now or utcnow()
    made = []
    for center, day in closed_days_to_seal(session, now):
        try:
            with session.begin_nested():
                seal = seal_day(session, center, day, key, log, now=now)
        except SealRefused as refused:
            log_error("not sealing: %s", refused)
            continue
        if seal is not None:
            made.append(seal)
    return made
