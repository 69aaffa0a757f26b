"""What the public gets of the ledger: a day's entries as JSON lines, and the proof the
public page shows (today's head, the last sealed day, the public key)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import Database
from ..models import Center, LedgerEntry, LedgerHead, LedgerSeal, utcnow
from ..queue.numbering import business_day
from .canonical import GENESIS
from .keys import key_id
from .seal import last_seal, seal_json

FORMAT_VERSION = 1
ENTRIES_PER_QUERY = 1000


def ledger_url(center_code: str, day: date) -> str:
    return f"/api/v1/public/centers/{center_code}/ledger/{day.isoformat()}"


def public_lines(db: Database, center_id: int, center_code: str, day: date) -> Iterator[str]:
    """The header, every entry of the day (its stored canonical content and hash), then
    the day's seals, one JSON object a line. A short read per page of entries: a slow
    download of a day of 20,000 holds no connection or transaction between pages."""
    yield _line(
        {
            "ledger": "novbe",
            "version": FORMAT_VERSION,
            "center": center_code,
            "day": day.isoformat(),
        }
    )
    after = 0
    while True:
        with db.read() as s:
            rows = s.execute(
                select(LedgerEntry.seq, LedgerEntry.content, LedgerEntry.hash)
                .where(
                    LedgerEntry.center_id == center_id,
                    LedgerEntry.day == day,
                    LedgerEntry.seq > after,
                )
                .order_by(LedgerEntry.seq)
                .limit(ENTRIES_PER_QUERY)
            ).all()
        for _seq, content, hash_ in rows:
            # The stored canonical form, with its hash added as the last key: the
            # verifier drops "hash" and re-canonicalizes, so key order here is free.
            yield content[:-1] + f',"hash":"{hash_}"}}\n'
        if len(rows) < ENTRIES_PER_QUERY:
            break
        after = rows[-1][0]
    with db.read() as s:
        seals = [
            seal_json(seal)
            for seal in s.scalars(
                select(LedgerSeal)
                .where(LedgerSeal.center_id == center_id, LedgerSeal.day == day)
                .order_by(LedgerSeal.id)
            )
        ]
    for seal in seals:
        yield _line({"seal": seal})


def _line(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


def public_proof(session: Session, center: Center, now: datetime | None = None) -> dict:
    """The public page's proof: today's running head, and the last sealed day with the
    key that signed it (the installation's: ``novbe ledger-key`` prints it too)."""
    today = business_day(center, now or utcnow())
    head = session.get(LedgerHead, (center.id, today))
    sealed = last_seal(session, center.id)
    public_key = sealed.public_key if sealed is not None else None
    return {
        "public_key": public_key,
        "key_id": key_id(public_key) if public_key else None,
        "today": {
            "day": today.isoformat(),
            "entries": head.seq if head is not None else 0,
            "head": head.hash if head is not None else GENESIS,
        },
        "sealed": (
            {
                "day": sealed.day.isoformat(),
                "entries": sealed.entries,
                "head": sealed.head,
                "signature": sealed.signature,
                "sealed_at": seal_json(sealed)["sealed_at"],
            }
            if sealed is not None
            else None
        ),
        "download": {
            "today": ledger_url(center.code, today),
            "sealed": ledger_url(center.code, sealed.day) if sealed is not None else None,
        },
    }
