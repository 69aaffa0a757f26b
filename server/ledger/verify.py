"""Checking a day's ledger: from a downloaded file with only the public key, or from
the database, where each entry is also held against the ticket event (or audit log
entry) it records, and every such row of the day must have its entry.

A check stops being quiet at the first thing that does not match and names it: the
entry (by its place in the chain, its ticket number and event) and what is wrong.
Outcomes (``novbe verify-ledger``'s exit codes): ``VERIFIED`` (0), ``MISMATCH`` (1),
``UNSEALED`` (3: the chain holds, but no seal covers all of it yet, so nothing proves
that no entry was left out at its end).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    AuditEntry,
    Center,
    LedgerEntry,
    LedgerHead,
    LedgerSeal,
    Ticket,
    TicketEvent,
)
from .canonical import GENESIS, entry_hash, private_digest, seal_hash, seal_message
from .chain import (
    NOT_IN_LEDGER,
    audit_private_part,
    event_fields,
    private_part,
    public_facts,
)
from .keys import LedgerKeyError, parse_public_key, signature_holds
from .seal import seal_json

VERIFIED, MISMATCH, UNSEALED = 0, 1, 3


@dataclass
class Report:
    center: str
    day: str
    entries: int = 0
    head: str = GENESIS
    sealed: int = 0  # entries covered by the last valid seal
    problems: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> int:
        if self.problems:
            return MISMATCH
        return VERIFIED if self.entries and self.sealed == self.entries else UNSEALED

    def summary(self) -> str:
        where = f"center {self.center}, {self.day}"
        if self.problems:
            more = len(self.problems) - 1
            extra = f" (and {more} more finding{'s' if more != 1 else ''})" if more else ""
            return f"NOT VERIFIED: {where}: {self.problems[0]}{extra}"
        if self.outcome == UNSEALED:
            if not self.entries:
                return f"NOTHING TO VERIFY: {where}: the ledger holds no entry for that day"
            covered = f"the last seal covers {self.sealed}" if self.sealed else "no seal covers it"
            return (
                f"NOT SEALED: {where}: the chain of {self.entries} entries holds, but "
                f"{covered} yet (a day is sealed when the center closes)"
            )
        return f"VERIFIED: {where}: {self.entries} entries, head {self.head}, sealed"


def describe(entry: dict, position: int) -> str:
    what = " ".join(str(entry.get(k)) for k in ("number", "event") if entry.get(k) is not None)
    return f"entry {position}" + (f" ({what})" if what else "")


def check_chain(report: Report, entries: Iterable[dict]) -> list[dict]:
    """Recompute the chain: each entry's hash over its content, its ``prev`` against
    the hash before it, ``seq`` counting 1, 2, 3 with no gap or repeat."""
    kept = []
    previous = GENESIS
    for position, entry in enumerate(entries, 1):
        kept.append(entry)
        if report.problems:
            continue  # counted, not checked: the first finding is the one that matters
        if entry.get("seq") != position:
            report.problems.append(
                f"{describe(entry, position)}: seq is {entry.get('seq')!r}, expected "
                f"{position}: an entry was removed or inserted before it"
            )
        elif entry.get("prev") != previous:
            report.problems.append(
                f"{describe(entry, position)}: prev does not match the hash of entry "
                f"{position - 1}: the chain is broken there"
            )
        elif entry.get("hash") != entry_hash(entry):
            report.problems.append(
                f"{describe(entry, position)}: its content does not match its hash: "
                "it was changed after it was written"
            )
        previous = entry.get("hash")
    report.entries = len(kept)
    report.head = kept[-1].get("hash", GENESIS) if kept else GENESIS
    return kept


def check_seals(
    report: Report, entries: list[dict], seals: list[dict], public_keys: list[Ed25519PublicKey]
) -> None:
    """Each seal signed by one of ``public_keys`` (an installation that changed its key
    has sealed days with both) over the head of the entries it covers."""
    for seal in seals:
        try:
            message = seal_message(seal)
        except KeyError as exc:
            report.problems.append(f"a seal lacks its {exc.args[0]!r}")
            return
        if seal["center"] != report.center or seal["day"] != report.day:
            report.problems.append(
                f"a seal is of center {seal['center']}, {seal['day']}, not of this day"
            )
            return
        signature = str(seal.get("signature", ""))
        if not any(signature_holds(key, message, signature) for key in public_keys):
            report.problems.append(
                f"the seal over {seal['entries']} entries does not hold: its signature does "
                "not match the public key (the seal or the key is not the installation's)"
            )
            return
        count = seal["entries"]
        if not isinstance(count, int) or not 1 <= count <= len(entries):
            report.problems.append(
                f"the seal covers {count} entries, but the ledger holds {len(entries)}: "
                "entries were removed from its end"
            )
            return
        if entries[count - 1].get("hash") != seal["head"]:
            report.problems.append(
                f"{describe(entries[count - 1], count)}: is not the head the seal signed: "
                f"the sealed part of the day was rewritten"
            )
            return
        report.sealed = max(report.sealed, count)


def verify_lines(lines: Iterable[str], public_key_texts: str | list[str]) -> Report:
    """A downloaded public ledger (GET /api/v1/public/centers/{c}/ledger/{day}): a
    header line, the entries, then the day's seals; checked with the installation's
    public key (or keys, across a change of key)."""
    if isinstance(public_key_texts, str):
        public_key_texts = [public_key_texts]
    try:
        public_keys = [parse_public_key(text) for text in public_key_texts]
    except LedgerKeyError as exc:
        report = Report("?", "?")
        report.problems.append(str(exc))
        return report
    header, entries, seals = None, [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            report = Report("?", "?")
            report.problems.append(f"line {number} is not JSON: not a ledger file")
            return report
        if not isinstance(item, dict):
            report = Report("?", "?")
            report.problems.append(f"line {number} is not a JSON object: not a ledger file")
            return report
        if header is None:
            header = item
        elif "seal" in item:
            seals.append(item["seal"])
        else:
            entries.append(item)
    if header is None or header.get("ledger") != "novbe":
        report = Report("?", "?")
        report.problems.append("the first line is not a Növbə ledger header")
        return report
    report = Report(str(header.get("center")), str(header.get("day")))
    entries = check_chain(report, entries)
    if not report.problems:
        check_seals(report, entries, seals, public_keys)
    return report


def verify_database(
    session: Session,
    center: Center,
    day: date,
    public_keys: Ed25519PublicKey | list[Ed25519PublicKey],
    logged: list[dict] | None = None,
) -> Report:
    """The chain and seals as stored, and each entry against ``ticket_events`` (and
    ``audit_log``): every event of the day's tickets has exactly one entry, which says
    what the event says. ``logged``: the center's seals from the installation's seal log
    (seal_log.py): each must still be in the database and hold over the chain."""
    if not isinstance(public_keys, list):
        public_keys = [public_keys]
    report = Report(center.code, day.isoformat())
    rows = (
        session.execute(
            select(LedgerEntry)
            .where(LedgerEntry.center_id == center.id, LedgerEntry.day == day)
            .order_by(LedgerEntry.seq, LedgerEntry.id)
        )
        .scalars()
        .all()
    )
    entries = []
    for row in rows:
        try:
            content = json.loads(row.content)
        except ValueError:
            content = {"seq": row.seq}
        entries.append({**content, "hash": row.hash})
    check_chain(report, entries)
    if report.problems:
        return report
    head = session.get(LedgerHead, (center.id, day))
    if head is not None and (head.seq, head.hash) != (report.entries, report.head):
        report.problems.append(
            f"the chain's head row says {head.seq} entries ending in {head.hash[:12]}…, "
            f"the entries end at {report.entries} in {report.head[:12]}…: entries were "
            "removed from, or added to, its end"
        )
        return report
    seals = session.scalars(
        select(LedgerSeal)
        .where(LedgerSeal.center_id == center.id, LedgerSeal.day == day)
        .order_by(LedgerSeal.id)
    ).all()
    stored = [seal_json(s) for s in seals]
    for seal in logged or ():
        if seal.get("day") == report.day and seal not in stored:
            report.problems.append(
                f"the seal of {seal['day']} over {seal['entries']} entries made at "
                f"{seal['sealed_at']} is in the seal log but not in the database: "
                "a seal was removed"
            )
            return report
    check_seals(report, entries, stored, public_keys)
    if report.problems:
        return report
    _check_seal_chain(session, report, center)
    if report.problems:
        return report
    _check_events(session, report, center, day, rows, entries)
    return report


def _check_seal_chain(session: Session, report: Report, center: Center) -> None:
    previous = GENESIS
    for seal in session.scalars(
        select(LedgerSeal).where(LedgerSeal.center_id == center.id).order_by(LedgerSeal.id)
    ):
        body = seal_json(seal)
        if seal.previous != previous:
            report.problems.append(
                f"the seal of {body['day']} over {seal.entries} entries does not follow the "
                "center's seal before it: a seal was removed or replaced"
            )
            return
        previous = seal_hash(body)


def _check_events(
    session: Session,
    report: Report,
    center: Center,
    day: date,
    rows: list[LedgerEntry],
    entries: list[dict],
) -> None:
    events = {
        event.id: (event, f"{prefix}{number:03d}")
        for event, prefix, number in session.execute(
            select(TicketEvent, Ticket.prefix, Ticket.number)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(Ticket.center_id == center.id, Ticket.business_day == day)
        )
    }
    audits = _audit_entries(session, center, day, [r.audit_id for r in rows if r.audit_id])
    seen, seen_audits = set(), set()
    for position, (row, entry) in enumerate(zip(rows, entries, strict=True), 1):
        if row.audit_id is not None:
            audit = audits.get(row.audit_id)
            if audit is None:
                report.problems.append(
                    f"{describe(entry, position)}: its audit log entry is gone from audit_log"
                )
                return
            seen_audits.add(audit.id)
            digest = private_digest(row.salt, audit_private_part(audit))
            if entry.get("private") != digest or entry.get("action") != audit.action:
                report.problems.append(
                    f"{describe(entry, position)}: audit log entry {audit.id} no longer says "
                    "what the ledger recorded: it was changed after it was written"
                )
                return
            continue
        found = events.get(row.event_id) if row.event_id is not None else None
        if row.event_id is None:
            report.problems.append(
                f"{describe(entry, position)}: was not written from a ticket event "
                "(every entry is): it was added behind the server's back"
            )
            return
        if found is None:
            report.problems.append(
                f"{describe(entry, position)}: its ticket event is gone from ticket_events"
            )
            return
        event, number = found
        seen.add(event.id)
        fields = event_fields(event)
        if (
            entry.get("private") != private_digest(row.salt, private_part(fields))
            or any(entry.get(k) != v for k, v in public_facts(fields).items())
            or entry.get("number") != number
            or row.ticket_id != event.ticket_id
        ):
            report.problems.append(
                f"{describe(entry, position)}: ticket event {event.id} no longer says what "
                "the ledger recorded: it was changed after it was written"
            )
            return
    missing_audits = sorted(set(audits) - seen_audits)
    if missing_audits:
        audit = audits[missing_audits[0]]
        report.problems.append(
            f"audit log entry {audit.id} ({audit.action} of {audit.entity_type}) is not in the "
            "ledger: it was inserted behind the server's back"
        )
        return
    missing = sorted(set(events) - seen)
    if missing:
        event, _ = events[missing[0]]
        report.problems.append(
            f"ticket event {event.id} ({event.action} of ticket {event.ticket_id}) is not in "
            f"the ledger: it was inserted behind the server's back"
            + (f" ({len(missing) - 1} more)" if len(missing) > 1 else "")
        )


def _audit_entries(
    session: Session, center: Center, day: date, referenced: list[int]
) -> dict[int, AuditEntry]:
    """The administrative changes the day's entries record, and the center's others of
    its local ``day`` that no entry of any day records (the center's time zone may have
    changed since: an entry keeps the day it was written for). Login lockouts are
    security events, not changes: never in the ledger."""
    zone = ZoneInfo(center.timezone)
    start = datetime.combine(day, time.min, zone)
    end = datetime.combine(day + timedelta(days=1), time.min, zone)
    found = {
        entry.id: entry
        for entry in session.scalars(
            select(AuditEntry).where(
                AuditEntry.center_id == center.id,
                AuditEntry.at >= start,
                AuditEntry.at < end,
                AuditEntry.action.not_in(NOT_IN_LEDGER),
            )
        )
    }
    elsewhere = set(
        session.scalars(
            select(LedgerEntry.audit_id).where(
                LedgerEntry.audit_id.in_(list(found)), LedgerEntry.day != day
            )
        )
    )
    found = {id_: entry for id_, entry in found.items() if id_ not in elsewhere}
    missing = set(referenced) - set(found)
    if missing:
        found.update(
            (entry.id, entry)
            for entry in session.scalars(select(AuditEntry).where(AuditEntry.id.in_(missing)))
        )
    return found
