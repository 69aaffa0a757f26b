"""Appending ticket events (and centers' administrative changes) to the ledger, in the
transaction that makes them.

The queue engine notes each event as it records it (:func:`note`); the entries are
written just before the transaction commits (:func:`write_pending`, called by
``Database.write``), so the chain's lock is held for the shortest time:

* One chain per center and day (the ticket's business day): the transaction locks
  the chain's head row (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, like the
  ticket numbers, or the conditional UPDATE below), numbers its entries from the head's
  ``seq``, hashes each over the one before, and moves the head. Concurrent kiosks and
  counters queue on that row (PostgreSQL) or on the write lock (SQLite): one linear
  chain, whatever the load.
* A transaction's heads are locked last and in (center, day) order: two transactions
  never wait for each other's heads in a cycle.
* A rolled-back transaction, or a rolled-back savepoint's notes (group commit), leave
  nothing: entries are notes in the session until the commit.
* Two statements per chain per transaction when this process wrote the chain's head
  last (it keeps it: a conditional UPDATE that moves the head only if it still says so,
  then the entries' INSERT), three otherwise (lock and read the head first). A group
  commit of many tickets pays them once.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import AuditEntry, Counter, LedgerEntry, LedgerHead, Service, TicketEvent
from .canonical import GENESIS, canonical_json, private_digest, sha256_hex

PENDING_LEDGER = "novbe_ledger_pending"
LABELS = "novbe_ledger_labels"

# Reasons shown to the public: the out-of-order reason codes. Free-text reasons (a
# cancel's, a park's) may name a person: they are in the private digest only.
PUBLIC_REASON_ACTIONS = frozenset({"call_out_of_order"})
# Details shown to the public, by key; the rest is in the private digest only.
PUBLIC_DETAILS = ("from_service", "to_service", "to_counter", "front", "score")

LABELS_MAX_AGE_S = 60.0

# Audit log actions that are not administrative changes and stay out of the ledger:
# login lockouts (server/api/login_limits.py) are written by anyone who mistypes a
# password six times; they are security events for the admins, not the public.
NOT_IN_LEDGER = ("login_locked",)


@dataclass
class Note:
    center_id: int
    day: date
    ticket_id: int | None
    number: str | None
    service_id: int | None
    event: TicketEvent | None  # an ORM event: its id and fields once flushed
    event_id: int | None
    fields: dict | None  # a Core-inserted event's fields
    audit: AuditEntry | None = None  # or an administrative change


def note(
    session: Session,
    *,
    center_id: int,
    day: date,
    ticket_id: int,
    number: str,
    service_id: int,
    event: TicketEvent | None = None,
    event_id: int | None = None,
    fields: dict | None = None,
) -> None:
    """Note a ticket event for the ledger: an ORM ``event``, or a Core-inserted one by
    ``event_id`` and its ``fields`` (the ``ticket_events`` columns)."""
    session.info.setdefault(PENDING_LEDGER, []).append(
        Note(center_id, day, ticket_id, number, service_id, event, event_id, fields)
    )


def note_audit(session: Session, entry: AuditEntry, day: date) -> None:
    """Note an administrative change of a center (the audit log) for that center's chain
    of ``day``, its local day: a change to the call policy or a counter's services is
    part of the day's fairness too."""
    assert entry.center_id is not None
    session.info.setdefault(PENDING_LEDGER, []).append(
        Note(entry.center_id, day, None, None, None, None, None, None, audit=entry)
    )


def audit_public_part(entry: AuditEntry, day: date) -> dict:
    """An administrative change as the public sees it: what kind of thing changed and
    how; the values and who changed them only in the private digest. A staff account's
    handle is its username: not shown."""
    return {
        "day": day.isoformat(),
        "at": iso_time(entry.at),
        "event": "admin",
        "entity": entry.entity_type,
        "id": None if entry.entity_type == "staff" else entry.entity_id,
        "action": entry.action,
    }


def audit_private_part(entry: AuditEntry) -> dict:
    return {
        "audit": entry.id,
        "at": iso_time(entry.at),
        "staff": entry.staff_id,
        "username": entry.username,
        "entity": entry.entity_type,
        "id": entry.entity_id,
        "action": entry.action,
        "before": entry.before,
        "after": entry.after,
    }


def pending_count(session: Session) -> int:
    return len(session.info.get(PENDING_LEDGER, ()))


def drop_pending_after(session: Session, count: int) -> None:
    """Forget the notes after the first ``count`` (their savepoint rolled back)."""
    del session.info.get(PENDING_LEDGER, [])[count:]


def event_fields(event: TicketEvent) -> dict:
    return {
        "ticket_id": event.ticket_id,
        "at": event.at,
        "action": event.action,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "counter_id": event.counter_id,
        "staff_id": event.staff_id,
        "device_id": event.device_id,
        "reason": event.reason,
        "details": event.details or {},
    }


def private_part(fields: dict) -> dict:
    """Everything ``ticket_events`` holds of an event, as the digest covers it."""
    return {
        "ticket": fields["ticket_id"],
        "at": iso_time(fields["at"]),
        "action": fields["action"],
        "from_status": fields["from_status"],
        "to_status": fields["to_status"],
        "counter": fields["counter_id"],
        "staff": fields["staff_id"],
        "device": fields["device_id"],
        "reason": fields["reason"],
        "details": fields["details"] or {},
    }


def iso_time(at: datetime) -> str:
    """UTC, to the microsecond, as every entry writes its time. An aware time in another
    zone (the queue engine takes any ``now``) is converted first: written as it was, a
    Baku 08:00 became 08:00Z, and the entry no longer matched its event (stored UTC)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def public_part(note: Note, fields: dict, labels: Labels, session: Session) -> dict:
    """What the public sees of an event: no names, no contact, no free text."""
    entry = {
        "day": note.day.isoformat(),
        "number": note.number,
        "service": labels.service(session, note.service_id),
        "counter": labels.counter(session, fields["counter_id"]),
        **public_facts(fields),
    }
    if entry["details"] is None:
        del entry["details"]
    return entry


def public_facts(fields: dict) -> dict:
    """The public part that only the event itself decides (not the labels of its
    moment): what the database check holds against ``ticket_events``."""
    action = fields["action"]
    details = fields["details"] or {}
    facts = {
        "at": iso_time(fields["at"]),
        "event": action,
        "reason": fields["reason"] if action in PUBLIC_REASON_ACTIONS else None,
    }
    shown = {key: details[key] for key in PUBLIC_DETAILS if key in details}
    if action == "issue":
        shown["priority"] = bool(details.get("priority"))
    facts["details"] = shown or None  # None: the entry has no "details" key
    return facts


def write_pending(session: Session) -> None:
    """Append the session's noted events to their chains; called just before COMMIT."""
    notes: list[Note] = session.info.pop(PENDING_LEDGER, None)
    if not notes:
        return
    if any(n.event is not None or n.audit is not None for n in notes):
        session.flush()  # the ORM events and audit entries get their ids
    chains: dict[tuple[int, date], list[Note]] = {}
    for n in notes:
        chains.setdefault((n.center_id, n.day), []).append(n)
    labels = _labels(session)
    conn = session.connection()
    for chain_key, chain in sorted(chains.items(), key=lambda item: item[0]):
        center_id, day = chain_key
        kept = labels.heads.get(chain_key)
        rows, seq, head = _entries(session, labels, chain, *(kept or (0, GENESIS)))
        moved = kept is not None and (
            conn.execute(
                _move_kept_head_statement(),
                {
                    "b_center": center_id,
                    "b_day": day,
                    "b_seq": seq,
                    "b_hash": head,
                    "b_kept_seq": kept[0],
                    "b_kept_hash": kept[1],
                },
            ).rowcount
            == 1
        )
        if not moved:  # not kept here, or another process moved it: lock and read it
            lock = _lock_head_statement(conn.dialect.name)
            start = tuple(conn.execute(lock, {"center_id": center_id, "day": day}).one())
            rows, seq, head = _entries(session, labels, chain, *start)
            conn.execute(
                _move_head_statement(),
                {"b_center": center_id, "b_day": day, "b_seq": seq, "b_hash": head},
            )
        conn.execute(_insert_entries_statement(), rows)
        # Kept for the next transaction: valid only if this one commits, and used only
        # if the head still says exactly this (the conditional UPDATE above).
        labels.heads[chain_key] = (seq, head)


def _entries(
    session: Session, labels: Labels, chain: list[Note], seq: int, head: str
) -> tuple[list[dict], int, str]:
    """The chain's new rows after (seq, head), and its new (seq, head)."""
    rows = []
    salts = secrets.token_hex(16 * len(chain))
    for index, n in enumerate(chain):
        salt = salts[32 * index : 32 * (index + 1)]
        seq += 1
        if n.audit is not None:
            entry = audit_public_part(n.audit, n.day)
            private, event_id = audit_private_part(n.audit), None
        else:
            fields = event_fields(n.event) if n.event is not None else n.fields
            event_id = n.event.id if n.event is not None else n.event_id
            entry = public_part(n, fields, labels, session)
            private = private_part(fields)
        entry.update(seq=seq, prev=head, private=private_digest(salt, private))
        content = canonical_json(entry)  # no "hash" key yet: what entry_hash covers
        head = sha256_hex(content)
        rows.append(
            {
                "center_id": n.center_id,
                "day": n.day,
                "seq": seq,
                "event_id": event_id,
                "ticket_id": n.ticket_id,
                "audit_id": n.audit.id if n.audit is not None else None,
                "content": content.decode("utf-8"),
                "hash": head,
                "salt": salt,
            }
        )
    return rows, seq, head


@lru_cache(maxsize=4)
def _lock_head_statement(dialect: str):
    """The head's (seq, hash), its row locked to the end of the transaction; a day's
    first event makes it. Built once per dialect."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(LedgerHead).values(
        center_id=bindparam("center_id", type_=LedgerHead.center_id.type),
        day=bindparam("day", type_=LedgerHead.day.type),
        seq=0,
        hash=GENESIS,
    )
    return stmt.on_conflict_do_update(
        index_elements=["center_id", "day"], set_={"seq": LedgerHead.seq}
    ).returning(LedgerHead.seq, LedgerHead.hash)


@lru_cache(maxsize=1)
def _insert_entries_statement():
    return LedgerEntry.__table__.insert()


@lru_cache(maxsize=1)
def _move_kept_head_statement():
    """Move the head from the (seq, hash) this process last wrote, if it still says that:
    one statement instead of lock, read and move (the UPDATE locks the row as well)."""
    table = LedgerHead.__table__
    return (
        update(table)
        .where(
            table.c.center_id == bindparam("b_center"),
            table.c.day == bindparam("b_day"),
            table.c.seq == bindparam("b_kept_seq"),
            table.c.hash == bindparam("b_kept_hash"),
        )
        .values(seq=bindparam("b_seq"), hash=bindparam("b_hash"))
    )


@lru_cache(maxsize=1)
def _move_head_statement():
    table = LedgerHead.__table__
    return (
        update(table)
        .where(table.c.center_id == bindparam("b_center"), table.c.day == bindparam("b_day"))
        .values(seq=bindparam("b_seq"), hash=bindparam("b_hash"))
    )


class Labels:
    """What a process keeps for writing entries: services' codes and counters' labels by
    id, for their public part, kept a minute (a rename shows within a minute); and each
    chain's head as this process last wrote it."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, int], tuple[float, str]] = {}
        # The (seq, hash) this process last gave each chain: usually still its head.
        self.heads: dict[tuple[int, date], tuple[int, str]] = {}

    def service(self, session: Session, service_id: int) -> str:
        return self._get(session, "service", service_id)

    def counter(self, session: Session, counter_id: int | None) -> str | None:
        return None if counter_id is None else self._get(session, "counter", counter_id)

    def _get(self, session: Session, kind: str, key: int) -> str:
        now = time.monotonic()
        kept = self._kept.get((kind, key))
        if kept is not None and now - kept[0] < LABELS_MAX_AGE_S:
            return kept[1]
        column = Service.code if kind == "service" else Counter.label
        model = Service if kind == "service" else Counter
        value = session.scalar(select(column).where(model.id == key))
        value = value if value is not None else f"#{key}"  # deleted meanwhile
        self._kept[(kind, key)] = (now, value)
        return value


def _labels(session: Session) -> Labels:
    """The labels shared by every session of the database (its ``session_info``)."""
    labels = session.info.get(LABELS)
    if labels is None:  # a session made outside Database: labels of its own
        labels = session.info[LABELS] = Labels()
    return labels
