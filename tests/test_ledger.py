"""The fairness ledger (server/ledger/): every ticket event in one chain per center and
day, sealed, and every direct edit, deletion or insertion caught by verify-ledger, on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text

from server import queue, ratings
from server.cli import main
from server.ledger import signing_key
from server.ledger.canonical import GENESIS, entry_hash
from server.ledger.keys import public_key_text
from server.ledger.seal import (
    SealRefused,
    closed_days_to_seal,
    seal_closed_days,
    seal_day,
    seal_json,
)
from server.ledger.seal_log import SealLog
from server.ledger.verify import MISMATCH, UNSEALED, VERIFIED, verify_database, verify_lines
from server.models import Center, LedgerEntry, LedgerHead, LedgerSeal, Ticket, TicketEvent

from . import factories
from .engine_helpers import T0, at, issue, make_env

DAY = T0.date()  # 2024-03-11, a Monday in Baku (UTC+4)


def a_whole_day(db):
    """Every kind of ticket event, through the queue engine, on the day of T0."""
    with db.write() as s:
        env = make_env(s)
    with db.write() as s:
        tickets = [issue(s, env, "pension-new", minute=m).id for m in range(5)]
        tickets.append(issue(s, env, "pension-new", priority="disability", minute=5).id)
    with db.write() as s:
        queue.set_counter_state(s, env.c1, "open", env.alice, now=at(10))
        queue.set_counter_state(s, env.c2, "open", env.bob, now=at(10))
    with db.write() as s:
        first = queue.call_next(s, env.c1, env.alice, now=at(11)).id
        queue.recall(s, first, env.alice, now=at(12))
        queue.start(s, first, env.alice, now=at(13))
        queue.complete(s, first, env.alice, now=at(20))
    with db.write() as s:
        skipped_to = queue.call_ticket(
            s, env.c2, tickets[4], "accessibility", env.bob, now=at(21)
        ).id
        queue.recall(s, skipped_to, env.bob, now=at(23))
        queue.no_show(s, skipped_to, env.bob, now=at(25))
    with db.write() as s:
        moved = queue.call_next(s, env.c1, env.alice, now=at(26)).id
        queue.transfer(s, moved, env.alice, service_code="job-seeker", now=at(27))
    with db.write() as s:
        parked = queue.call_next(s, env.c1, env.alice, start=True, now=at(28)).id
        queue.park(s, parked, env.alice, reason="documents at home", now=at(29))
        queue.resume(s, parked, env.alice, counter_id=env.c1, now=at(30))
        back = queue.call_next(s, env.c1, env.alice, start=True, now=at(31)).id
        queue.complete(s, back, env.alice, now=at(32))
    with db.write() as s:
        token = s.get(Ticket, first).tracking_token
        ratings.rate_ticket(s, token, 5, now=at(40))
        waiting = s.scalar(select(Ticket.id).where(Ticket.status == "waiting").order_by(Ticket.id))
        queue.cancel(s, waiting, env.kiosk, reason="left", now=at(41))
    with db.write() as s:  # after closing: the rest expire
        queue.expire_all_centers(s, now=at(9 * 60))
    return env


def entries(db, center_id: int, day=DAY) -> list[dict]:
    with db.read() as s:
        rows = s.execute(
            select(LedgerEntry.content, LedgerEntry.hash)
            .where(LedgerEntry.center_id == center_id, LedgerEntry.day == day)
            .order_by(LedgerEntry.seq)
        ).all()
    return [{**json.loads(content), "hash": hash_} for content, hash_ in rows]


def verify(db, app, center_id: int, day=DAY):
    with db.read() as s:
        center = s.get(Center, center_id)
        return verify_database(s, center, day, signing_key(app).public_key())


def seal(db, app, center_id: int, day=DAY, minute: float = 9 * 60):
    with db.write() as s:
        return seal_day(s, s.get(Center, center_id), day, signing_key(app), now=at(minute))


def test_every_ticket_event_joins_one_chain_in_commit_order(app, db):
    env = a_whole_day(db)
    chain = entries(db, env.center_id)
    with db.read() as s:
        recorded = s.scalars(select(TicketEvent.action).order_by(TicketEvent.id)).all()
    assert [e["event"] for e in chain] == list(recorded)
    assert {"issue", "call", "call_out_of_order", "recall", "start", "complete", "no_show"} <= set(
        recorded
    )
    assert {"transfer", "park", "resume", "rate", "cancel", "expire"} <= set(recorded)
    assert [e["seq"] for e in chain] == list(range(1, len(chain) + 1))
    assert chain[0]["prev"] == GENESIS
    for before, entry in zip(chain, chain[1:], strict=False):
        assert entry["prev"] == before["hash"] == entry_hash(before)
    # What the public sees: numbers, services, counters, reason codes; no names, no
    # free text (the park's and cancel's reasons are in the private digest only).
    out_of_order = next(e for e in chain if e["event"] == "call_out_of_order")
    assert (out_of_order["number"], out_of_order["reason"], out_of_order["counter"]) == (
        "A005",
        "accessibility",
        "2",
    )
    assert next(e for e in chain if e["event"] == "rate")["details"] == {"score": 5}
    assert next(e for e in chain if e["event"] == "transfer")["details"]["to_service"] == (
        "job-seeker"
    )
    assert [e["details"]["priority"] for e in chain if e["event"] == "issue"] == [False] * 5 + [
        True
    ]
    text_of_day = json.dumps(chain, ensure_ascii=False)
    assert "documents at home" not in text_of_day and "alice" not in text_of_day
    assert all(e["reason"] is None for e in chain if e["event"] in ("park", "cancel"))
    with db.read() as s:
        head = s.get(LedgerHead, (env.center_id, DAY))
        assert (head.seq, head.hash) == (len(chain), chain[-1]["hash"])


def test_a_day_verifies_once_sealed_and_says_so_before(app, db):
    env = a_whole_day(db)
    report = verify(db, app, env.center_id)
    assert report.outcome == UNSEALED, report.summary()
    assert "NOT SEALED" in report.summary()
    made = seal(db, app, env.center_id)
    assert made.entries == len(entries(db, env.center_id))
    report = verify(db, app, env.center_id)
    assert report.outcome == VERIFIED, report.summary()
    assert report.summary().startswith("VERIFIED")
    # Sealing the same head again makes nothing new.
    assert seal(db, app, env.center_id).id == made.id


# Each tampering, as someone with the database's password would do it in SQL, and the
# words verify-ledger must say about it.
TAMPERINGS = {
    "an entry's content edited": (
        "UPDATE ledger_entries SET content = REPLACE(content, '\"accessibility\"', "
        "'\"appointment\"') WHERE content LIKE '%call_out_of_order%'",
        "its content does not match its hash",
    ),
    "an entry deleted": (
        "DELETE FROM ledger_entries WHERE day = :day AND seq = 3",
        "an entry was removed or inserted",
    ),
    "an entry inserted": (
        "UPDATE ledger_entries SET seq = seq + 100000 WHERE day = :day AND seq >= 4; "
        "UPDATE ledger_entries SET seq = seq - 99999 WHERE day = :day AND seq >= 100000; "
        "INSERT INTO ledger_entries (center_id, day, seq, event_id, ticket_id, content, hash, "
        "salt) SELECT center_id, day, 4, event_id, ticket_id, content, hash, salt FROM "
        "ledger_entries WHERE day = :day AND seq = 3",
        "an entry was removed or inserted",
    ),
    "a well-chained entry appended, the head row moved": (
        None,  # done in Python below
        "was not written from a ticket event",
    ),
    "a hash recomputed over an edited entry": (
        None,  # done in Python below: the next entry's prev no longer matches
        "prev does not match",
    ),
    "the last entry deleted": (
        "DELETE FROM ledger_entries WHERE day = :day AND seq = "
        "(SELECT MAX(seq) FROM ledger_entries WHERE day = :day)",
        "head row says",
    ),
    "the last entry deleted, the head row moved back": (
        "DELETE FROM ledger_entries WHERE day = :day AND seq = "
        "(SELECT MAX(seq) FROM ledger_entries WHERE day = :day); "
        "UPDATE ledger_heads SET seq = seq - 1, hash = (SELECT hash FROM ledger_entries "
        "WHERE day = :day AND seq = (SELECT MAX(seq) FROM ledger_entries WHERE day = :day)) "
        "WHERE day = :day",
        "the seal covers",
    ),
    "a ticket event edited (who called)": (
        "UPDATE ticket_events SET staff_id = NULL WHERE action = 'call_out_of_order'",
        "no longer says what the ledger recorded",
    ),
    "a ticket event's reason edited": (
        "UPDATE ticket_events SET reason = 'appointment' WHERE action = 'call_out_of_order'",
        "no longer says what the ledger recorded",
    ),
    "a ticket event deleted": (
        "DELETE FROM ticket_events WHERE action = 'recall'",
        "is gone from ticket_events",
    ),
    "a ticket event inserted": (
        "INSERT INTO ticket_events (ticket_id, at, action, from_status, to_status, reason, "
        "details) SELECT ticket_id, at, 'call_out_of_order', from_status, to_status, "
        "'appointment', details FROM ticket_events WHERE action = 'no_show'",
        "is not in the ledger",
    ),
    "a seal deleted": (
        "DELETE FROM ledger_seals",
        None,  # no longer verified: not sealed
    ),
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_verify_ledger_catches_every_direct_edit_deletion_and_insertion(
    app, db, tampering, monkeypatch
):
    env = a_whole_day(db)
    seal(db, app, env.center_id)
    assert verify(db, app, env.center_id).outcome == VERIFIED
    statement, words = TAMPERINGS[tampering]
    with db.engine.begin() as conn:
        if tampering.startswith("a well-chained entry"):
            last = conn.execute(
                text(
                    "SELECT seq, content, hash FROM ledger_entries WHERE day = :day "
                    "ORDER BY seq DESC LIMIT 1"
                ),
                {"day": DAY},
            ).one()
            forged = {**json.loads(last.content), "seq": last.seq + 1, "prev": last.hash}
            forged.update(event="call_out_of_order", reason="appointment", number="A001")
            conn.execute(
                text(
                    "INSERT INTO ledger_entries (center_id, day, seq, event_id, ticket_id, "
                    "content, hash, salt) VALUES (:center, :day, :seq, NULL, 1, :c, :h, 'x')"
                ),
                {
                    "center": env.center_id,
                    "day": DAY,
                    "seq": forged["seq"],
                    "c": json.dumps(forged, sort_keys=True, separators=(",", ":")),
                    "h": entry_hash(forged),
                },
            )
            conn.execute(
                text("UPDATE ledger_heads SET seq = :seq, hash = :h WHERE day = :day"),
                {"seq": forged["seq"], "h": entry_hash(forged), "day": DAY},
            )
        elif statement is None:
            row = conn.execute(
                text("SELECT id, content FROM ledger_entries WHERE day = :day AND seq = 5"),
                {"day": DAY},
            ).one()
            content = json.loads(row.content)
            content["counter"] = "9"
            conn.execute(
                text("UPDATE ledger_entries SET content = :c, hash = :h WHERE id = :id"),
                {
                    "c": json.dumps(content, sort_keys=True, separators=(",", ":")),
                    "h": entry_hash(content),
                    "id": row.id,
                },
            )
        else:
            for part in statement.split("; "):
                conn.execute(text(part), {"day": DAY} if ":day" in part else {})
    report = verify(db, app, env.center_id)
    if words is None:
        assert report.outcome == UNSEALED, report.summary()
        return
    assert report.outcome == MISMATCH, report.summary()
    assert words in report.problems[0]
    # And the command says it, naming the entry, with exit status 1.
    monkeypatch.setenv("NOVBE_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("NOVBE_LEDGER_KEY_FILE", app.config["LEDGER_KEY_FILE"])
    result = CliRunner().invoke(
        main, ["verify-ledger", "--center", env.center_code, "--day", DAY.isoformat()]
    )
    assert result.exit_code == 1, result.output
    assert result.output.startswith("NOT VERIFIED: center baku-1, 2024-03-11: ")
    assert words in result.output


def test_a_replaced_seal_breaks_the_chain_of_seals(app, db):
    env = a_whole_day(db)
    first = seal(db, app, env.center_id)
    # The next day, one more ticket; its day is sealed after the first.
    with db.write() as s:
        issue(s, env, "pension-new", minute=24 * 60)
    second = seal(db, app, env.center_id, DAY + timedelta(days=1), minute=33 * 60)
    assert second.previous != GENESIS
    assert verify(db, app, env.center_id, DAY + timedelta(days=1)).outcome == VERIFIED
    with db.engine.begin() as conn:  # the first seal made again over the same head
        conn.execute(text("DELETE FROM ledger_seals WHERE id = :id"), {"id": first.id})
    seal(db, app, env.center_id, minute=34 * 60)
    report = verify(db, app, env.center_id, DAY + timedelta(days=1))
    assert report.outcome == MISMATCH
    assert "a seal was removed or replaced" in report.problems[0]


def test_a_downloaded_day_verifies_offline_with_only_the_public_key(app, db, client, tmp_path):
    env = a_whole_day(db)
    seal(db, app, env.center_id)
    response = client.get(f"/api/v1/public/centers/baku-1/ledger/{DAY.isoformat()}")
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    assert json.loads(lines[0]) == {
        "ledger": "novbe",
        "version": 1,
        "center": "baku-1",
        "day": DAY.isoformat(),
    }
    assert "seal" in json.loads(lines[-1])
    assert "alice" not in response.get_data(as_text=True)
    key = public_key_text(signing_key(app))
    assert verify_lines(lines, key).outcome == VERIFIED

    day_file = tmp_path / "day.jsonl"
    day_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    runner = CliRunner()  # no database: the file and the key only
    result = runner.invoke(
        main, ["verify-ledger", "--file", str(day_file), "--public-key", key], env={}
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"VERIFIED: center baku-1, {DAY.isoformat()}:")

    # One entry changed in the file: named, exit 1.
    edited = list(lines)
    seventh = json.loads(edited[7])
    seventh["counter"] = "3"
    edited[7] = json.dumps(seventh)
    day_file.write_text("\n".join(edited), encoding="utf-8")
    result = runner.invoke(main, ["verify-ledger", "--file", str(day_file), "--public-key", key])
    assert result.exit_code == 1
    assert f"entry 7 ({seventh['number']} {seventh['event']})" in result.output

    # Another installation's key: the seal does not hold.
    other = public_key_text(Ed25519PrivateKey.generate())
    assert verify_lines(lines, other).outcome == MISMATCH
    # Today's ledger, not sealed yet: the chain holds, exit 3.
    assert verify_lines(lines[:-1], key).outcome == UNSEALED
    # Not a ledger, or not a key: a clear message.
    assert "not a Növbə ledger" in verify_lines(['{"a": 1}'], key).problems[0]
    assert "base64 of 32 bytes" in verify_lines(lines, "not-a-key").problems[0]


def test_the_public_ledger_says_what_is_wrong_with_a_request(app, db, client):
    with db.write() as s:
        factories.make_center(s)
    bad = client.get("/api/v1/public/centers/baku-1/ledger/2024-13-01")
    assert bad.status_code == 422 and bad.get_json()["error"]["details"]["field"] == "day"
    missing = client.get("/api/v1/public/centers/nowhere/ledger/2024-03-11")
    assert missing.status_code == 404
    empty = client.get("/api/v1/public/centers/baku-1/ledger/2024-03-11")
    assert empty.status_code == 200 and len(empty.get_data(as_text=True).splitlines()) == 1


def test_sealing_on_demand_needs_a_manager(app, db, client):
    with db.write() as s:
        env = make_env(s)
        issue(s, env)
        factories.make_staff(s, "clerk-seal")
        factories.make_staff(s, "boss-seal", role="manager")
        clerk = factories.staff_token(s, "clerk-seal")
        boss = factories.staff_token(s, "boss-seal")
    url = f"/api/v1/centers/baku-1/ledger/{DAY.isoformat()}/seal"
    assert client.post(url).status_code == 401
    assert client.post(url, headers={"Authorization": f"Bearer {clerk}"}).status_code == 403
    made = client.post(url, headers={"Authorization": f"Bearer {boss}"})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["entries"] == 1
    empty = client.post(
        "/api/v1/centers/baku-1/ledger/2024-03-12/seal",
        headers={"Authorization": f"Bearer {boss}"},
    )
    assert empty.status_code == 409 and empty.get_json()["error"]["code"] == "ledger_empty"


def test_days_are_sealed_once_the_center_has_closed(app, db):
    with db.write() as s:
        env = make_env(s)
        issue(s, env)
    with db.read() as s:
        assert closed_days_to_seal(s, now=at(60)) == []  # open: 11:00 in Baku
        due = closed_days_to_seal(s, now=at(8 * 60 + 1))  # 18:01: closed
        assert [(c.code, d) for c, d in due] == [("baku-1", DAY)]
    with db.write() as s:
        assert len(seal_closed_days(s, signing_key(app), now=at(8 * 60 + 1))) == 1
    with db.write() as s:  # a rating after closing: sealed again, the last seal covers all
        issue(s, env, minute=8 * 60 + 2)
    with db.write() as s:
        assert [x.entries for x in seal_closed_days(s, signing_key(app), now=at(8 * 60 + 3))] == [2]
    assert verify(db, app, env.center_id).outcome == VERIFIED


def test_concurrent_kiosks_and_counters_make_one_linear_chain(app, db):
    """Threads issuing and calling at once (real concurrency on PostgreSQL; the write
    lock on SQLite): every event in the chain once, no seq twice, and it verifies."""
    with db.write() as s:
        env = make_env(s)
        for counter in (env.c1, env.c2, env.c3):
            queue.set_counter_state(s, counter, "open", env.alice)
    errors = []

    def kiosk(service: str) -> None:
        try:
            for _ in range(15):
                with db.write() as s:
                    queue.issue_ticket(s, env.center_code, service, "az", None, env.kiosk)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def desk(counter: int) -> None:
        try:
            for _ in range(15):
                with db.write() as s:
                    queue.call_next(s, counter, env.alice, start=True)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=kiosk, args=(s,)) for s in ("pension-new", "job-seeker")]
    threads += [threading.Thread(target=desk, args=(c,)) for c in (env.c1, env.c2, env.c3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as s:
        days = s.scalars(select(LedgerEntry.day).distinct()).all()
        events = s.scalar(select(func.count()).select_from(TicketEvent))
    assert len(days) == 1  # today, whatever it is
    chain = entries(db, env.center_id, days[0])
    assert len([e for e in chain if e["event"] != "admin"]) == events >= 30
    assert [e["seq"] for e in chain] == list(range(1, len(chain) + 1))
    seal(db, app, env.center_id, days[0])
    with db.read() as s:
        center = s.get(Center, env.center_id)
        report = verify_database(s, center, days[0], signing_key(app).public_key())
    assert report.outcome == VERIFIED, report.summary()


def test_a_rolled_back_transaction_leaves_nothing_in_the_ledger(app, db):
    with db.write() as s:
        env = make_env(s)
    with pytest.raises(RuntimeError), db.write() as s:
        issue(s, env)
        raise RuntimeError("the kiosk's request failed after issuing")
    with db.write() as s:
        issue(s, env, minute=1)
    chain = entries(db, env.center_id)
    assert [e["number"] for e in chain] == ["A001"]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(LedgerSeal)) == 0


def test_a_centers_administrative_changes_join_its_chain(app, db, client):
    """A manager changing the call policy is part of the day's fairness: in the chain,
    its values and author in the private digest only; an edit of the audit log after
    the fact is caught like an edit of a ticket event."""
    with db.write() as s:
        factories.make_center(s)
        factories.make_staff(s, "boss-policy", role="manager")
        token = factories.staff_token(s, "boss-policy")
    changed = client.patch(
        "/api/v1/centers/baku-1/policy",
        json={"call_policy": "ratio", "priority_ratio": 3},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert changed.status_code == 200, changed.get_json()
    with db.read() as s:
        center_id, day = s.execute(select(LedgerHead.center_id, LedgerHead.day)).one()
    chain = entries(db, center_id, day)
    policy = [e for e in chain if e["event"] == "admin" and e["action"] == "update"]
    assert [(e["entity"], e["id"]) for e in policy] == [("center", "baku-1")]
    assert "ratio" not in json.dumps(policy) and "boss-policy" not in json.dumps(chain)
    seal(db, app, center_id, day, minute=60 * 24 * 365 * 5)
    assert verify(db, app, center_id, day).outcome == VERIFIED
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET username = 'someone-else'"))
    report = verify(db, app, center_id, day)
    assert report.outcome == MISMATCH
    assert "no longer says what the ledger recorded" in report.problems[0]
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    assert "is gone from audit_log" in verify(db, app, center_id, day).problems[0]


def test_the_check_in_docs_ledger_md_verifies_a_downloaded_day(app, db, client, tmp_path):
    """docs/ledger.md's few lines of Python, for auditors without novbe, do check a day."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "ledger.md").read_text()
    script = tmp_path / "check.py"
    script.write_text(re.search(r"```python\n(.*?)```", doc, re.S).group(1))
    env = a_whole_day(db)
    seal(db, app, env.center_id)
    day_file = tmp_path / "day.jsonl"
    lines = client.get(f"/api/v1/public/centers/baku-1/ledger/{DAY}").get_data(as_text=True)
    day_file.write_text(lines, encoding="utf-8")
    key = public_key_text(signing_key(app))
    run = subprocess.run(
        [sys.executable, str(script), str(day_file), key], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"verified {len(entries(db, env.center_id))} entries"
    day_file.write_text(lines.replace('"accessibility"', '"appointment"'), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(script), str(day_file), key], capture_output=True, text=True
    )
    assert run.returncode != 0 and "changed" in run.stderr


def test_the_ledger_commands_say_what_they_need(app, db, monkeypatch, tmp_path):
    """seal-ledger seals the day, ledger-key prints the key that signed it; verify-ledger
    names what is missing instead of guessing (and never makes a key of its own)."""
    env = a_whole_day(db)
    monkeypatch.setenv("NOVBE_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("NOVBE_LEDGER_KEY_FILE", app.config["LEDGER_KEY_FILE"])
    runner = CliRunner()
    sealed = runner.invoke(main, ["seal-ledger", "--center", "baku-1", "--day", DAY.isoformat()])
    assert sealed.exit_code == 0, sealed.output
    assert sealed.output.startswith(f"sealed baku-1 {DAY}: {len(entries(db, env.center_id))} ")
    key = runner.invoke(main, ["ledger-key"])
    assert key.exit_code == 0
    assert key.stdout.strip() == public_key_text(signing_key(app))
    with db.read() as s:
        assert s.scalar(select(LedgerSeal.public_key)) == key.stdout.strip()
    verified = runner.invoke(
        main, ["verify-ledger", "--center", "baku-1", "--day", DAY.isoformat()]
    )
    assert verified.exit_code == 0, verified.output

    usage = runner.invoke(main, ["verify-ledger"])
    assert usage.exit_code == 2 and "--center and --day" in usage.output
    no_key = runner.invoke(main, ["verify-ledger", "--file", "day.jsonl"])
    assert no_key.exit_code == 2 and "--public-key" in no_key.output
    bad_day = runner.invoke(main, ["verify-ledger", "--center", "baku-1", "--day", "12/03"])
    assert bad_day.exit_code == 2 and "YYYY-MM-DD" in bad_day.output
    missing = tmp_path / "nowhere.pem"
    monkeypatch.setenv("NOVBE_LEDGER_KEY_FILE", str(missing))
    keyless = runner.invoke(main, ["verify-ledger", "--center", "baku-1", "--day", str(DAY)])
    assert keyless.exit_code == 1 and "no ledger key at" in keyless.output
    assert not missing.exists()
    unreadable = runner.invoke(
        main, ["verify-ledger", "--file", str(tmp_path / "none.jsonl"), "--public-key", "x"]
    )
    assert unreadable.exit_code == 1 and "cannot read" in unreadable.output


def sealed_with_log(db, app, center_id: int, log: SealLog, day=DAY, minute: float = 9 * 60):
    """Seal as the server does: checked against the log, and logged once committed."""
    with db.write() as s:
        made = seal_day(s, s.get(Center, center_id), day, signing_key(app), log, now=at(minute))
        body = seal_json(made)
    log.append([body])
    return body


def test_a_day_rewritten_in_the_database_alone_is_never_signed_again(app, db, tmp_path):
    """Someone with the database but not the key rewrites a sealed day consistently
    (hashes, head row) and deletes its seal, hoping the next round signs the forgery:
    the seal log beside the key refuses it, and verify-ledger names it."""
    env = a_whole_day(db)
    log = SealLog(tmp_path / "ledger-seals.jsonl")
    sealed_with_log(db, app, env.center_id, log)
    with db.engine.begin() as conn:
        rows = conn.execute(
            text("SELECT id, content FROM ledger_entries WHERE day = :day ORDER BY seq"),
            {"day": DAY},
        ).all()
        prev = GENESIS
        for row in rows:
            content = json.loads(row.content)
            if content.get("reason") == "accessibility":
                content["reason"] = "appointment"
            content["prev"] = prev
            prev = entry_hash(content)
            conn.execute(
                text("UPDATE ledger_entries SET content = :c, hash = :h WHERE id = :id"),
                {"c": json.dumps(content, sort_keys=True), "h": prev, "id": row.id},
            )
        conn.execute(
            text("UPDATE ledger_heads SET hash = :h WHERE day = :day"), {"h": prev, "day": DAY}
        )
        conn.execute(text("DELETE FROM ledger_seals"))
    with db.write() as s, pytest.raises(SealRefused, match="gone from the database"):
        seal_day(s, s.get(Center, env.center_id), DAY, signing_key(app), log, now=at(600))
    with db.write() as s:  # the upkeep round: refused, logged, nothing signed
        assert seal_closed_days(s, signing_key(app), log, now=at(600)) == []
    with db.read() as s:
        center = s.get(Center, env.center_id)
        report = verify_database(s, center, DAY, signing_key(app).public_key(), log.seals("baku-1"))
        assert report.outcome == MISMATCH
        assert "is in the seal log but not in the database" in report.problems[0]
        # Without the log, the public facts are still held against ticket_events.
        report = verify_database(s, center, DAY, signing_key(app).public_key())
        assert "no longer says what the ledger recorded" in report.problems[0]


def test_a_seal_whose_process_died_before_logging_it_is_taken_into_the_log(app, db, tmp_path):
    env = a_whole_day(db)
    log = SealLog(tmp_path / "ledger-seals.jsonl")
    first = seal(db, app, env.center_id)  # committed, never appended: the process died
    with db.write() as s:
        issue(s, env, minute=9 * 60 + 5)  # a late event, so there is more to seal
    second = sealed_with_log(db, app, env.center_id, log, minute=9 * 60 + 6)
    assert [s["entries"] for s in log.seals("baku-1")] == [first.entries, second["entries"]]
    assert second["previous"] != GENESIS


def test_a_login_lockout_is_not_taken_for_tampering(app, db):
    """Six wrong passwords write an audit entry for the account's center: a security
    event, not an administrative change, and not in the ledger (nor a false alarm)."""
    from server.api.login_limits import LOCKED
    from server.ledger.chain import NOT_IN_LEDGER
    from server.models import AuditEntry, utcnow

    assert LOCKED in NOT_IN_LEDGER
    with db.write() as s:
        factories.make_center(s)
        center_id = s.scalar(select(Center.id))
        s.add(
            AuditEntry(
                center_id=center_id,
                at=utcnow(),
                username="192.0.2.1",
                entity_type="staff",
                entity_id="alice",
                action=LOCKED,
            )
        )
    with db.read() as s:
        day = s.scalar(select(LedgerHead.day))
    seal(db, app, center_id, day, minute=60 * 24 * 365 * 5)
    assert verify(db, app, center_id, day).outcome == VERIFIED


def test_days_sealed_before_and_after_a_change_of_key_verify_with_both_keys(app, db):
    env = a_whole_day(db)
    old_key = signing_key(app)
    seal(db, app, env.center_id)
    new_key = Ed25519PrivateKey.generate()
    with db.write() as s:  # a late event, sealed with the new key
        issue(s, env, minute=9 * 60 + 5)
    with db.write() as s:
        seal_day(s, s.get(Center, env.center_id), DAY, new_key, now=at(9 * 60 + 6))
    with db.read() as s:
        center = s.get(Center, env.center_id)
        both = [old_key.public_key(), new_key.public_key()]
        assert verify_database(s, center, DAY, both).outcome == VERIFIED
        assert verify_database(s, center, DAY, new_key.public_key()).outcome == MISMATCH


def test_a_centers_new_time_zone_leaves_its_earlier_days_verified(app, db, client):
    with db.write() as s:
        factories.make_center(s)
        center = s.scalar(select(Center))
        center_id = center.id
    with db.read() as s:
        day = s.scalar(select(LedgerHead.day))
    with db.engine.begin() as conn:  # far from Baku: the same instants, another local day
        conn.execute(text("UPDATE centers SET timezone = 'Pacific/Pago_Pago'"))
    seal(db, app, center_id, day, minute=60 * 24 * 365 * 5)
    assert verify(db, app, center_id, day).outcome == VERIFIED


def test_the_servers_upkeep_seals_the_days_that_are_over_and_logs_them(app, db):
    """run_maintenance_once, as the serve loop calls it every minute: yesterday's day is
    sealed with the installation's key and appended to the seal log beside it."""
    from server.ledger import seal_log
    from server.maintenance import run_maintenance_once

    env = a_whole_day(db)  # in 2024: long over
    with app.app_context():
        run_maintenance_once()
        logged = seal_log(app).seals("baku-1")
    with db.read() as s:
        stored = [seal_json(x) for x in s.scalars(select(LedgerSeal).order_by(LedgerSeal.id))]
    assert logged == stored and {x["day"] for x in stored} >= {DAY.isoformat()}
    assert verify(db, app, env.center_id).outcome == VERIFIED


def test_a_process_whose_kept_head_is_stale_reads_the_head_again(app, db):
    """Each process keeps the head it last wrote, to move it with one statement; when
    another process (here a second Database on the same database) or a rolled-back
    commit moved it meanwhile, the kept head is not used and the chain stays linear."""
    from server.db import Database
    from server.ledger.chain import write_pending

    with db.write() as s:
        env = make_env(s)
    other = Database(app.config["DATABASE_URL"])
    try:
        for minute, writer in enumerate((db, other, db, db, other, db)):
            with writer.write() as s:
                issue(s, env, minute=minute)
        # A commit that fails after the entries were written: the kept head runs ahead.
        with pytest.raises(RuntimeError), db.write() as s:
            issue(s, env, minute=10)
            write_pending(s)
            raise RuntimeError("the COMMIT failed")
        with other.write() as s:
            issue(s, env, minute=11)
        with db.write() as s:
            issue(s, env, minute=12)
    finally:
        other.dispose()
    chain = entries(db, env.center_id)
    assert [e["number"] for e in chain] == [f"A{n:03d}" for n in range(1, 9)]
    seal(db, app, env.center_id)
    assert verify(db, app, env.center_id).outcome == VERIFIED


def test_events_at_a_local_time_write_their_utc_instant(app, db):
    """The engine takes any aware ``now``: an event timed in the center's zone (as the
    demo's past days are) writes its UTC instant, and the day verifies."""
    with db.write() as s:
        env = make_env(s)
    local = at(30).astimezone(ZoneInfo("Asia/Baku"))
    with db.write() as s:
        queue.issue_ticket(s, env.center_code, "pension-new", "az", None, env.kiosk, now=local)
    chain = entries(db, env.center_id)
    assert chain[-1]["at"] == at(30).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with db.read() as s:
        assert s.scalar(select(Ticket.issued_at).order_by(Ticket.id.desc()).limit(1)) == at(30)
    report = verify(db, app, env.center_id)
    assert not report.problems, report.summary()
