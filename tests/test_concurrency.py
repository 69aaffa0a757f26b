"""Many kiosks and many counters at once: no ticket called twice, no number lost or repeated.

Threads share one process (and on SQLite its in-process write lock); processes each
have their own engine, so only the database's own locking keeps them apart
(BEGIN IMMEDIATE on SQLite, FOR UPDATE SKIP LOCKED on PostgreSQL).
"""

from __future__ import annotations

import multiprocessing
from collections import Counter as Tally
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server import queue
from server.db import Database
from server.models import Ticket, TicketEvent, utcnow
from server.queue import Actor

from . import factories

SERVICES = ["pension-new", "pension-recalc", "job-seeker"]


@pytest.fixture
def db(app, database_url):
    """The queue engine's database alone, without the live channel's publisher
    (tests/test_live_channel_e2e.py covers that): these tests are about claims and numbers."""
    bare = Database(database_url)
    yield bare
    bare.dispose()


def busy_center_spec(counters: int) -> dict:
    spec = factories.center_spec()
    for category in spec["categories"]:
        for service in category["services"]:
            service.pop("daily_quota", None)
    spec["counters"] = [
        {"label": str(i + 1), "services": SERVICES[i % 3 :] + SERVICES[: i % 3]}
        for i in range(counters)
    ]
    return spec


def fill_queue(db, center, tickets: int) -> None:
    """Issue ``tickets`` tickets over a few services, some with priority, spread in time."""
    start = utcnow() - timedelta(hours=1)
    with db.write() as s:
        kiosk = factories.kiosk_actor(s, center)
        for i in range(tickets):
            queue.issue_ticket(
                s,
                center.code,
                SERVICES[i % 3],
                "az",
                "elderly" if i % 7 == 0 else None,
                kiosk,
                now=start + timedelta(milliseconds=i),
            )


def work_counter(db: Database, counter_id: int, staff: Actor, calls: int) -> list[int]:
    """What a counter does all day: call next, start, and (by calling next) complete."""
    called = []
    for _ in range(calls):
        with db.write() as s:
            ticket = queue.call_next(s, counter_id, staff)
            assert ticket is not None, "the queue ran dry too early"
            called.append(ticket.id)
            queue.start(s, ticket.id, staff)
    return called


def work_counter_in_process(url: str, counter_id: int, staff: Actor, calls: int) -> list[int]:
    db = Database(url)
    try:
        return work_counter(db, counter_id, staff, calls)
    finally:
        db.dispose()


def staff_for_counters(db, center, count: int) -> list[tuple[int, Actor]]:
    with db.write() as s:
        return [
            (
                factories.counter(s, center, str(i + 1)).id,
                factories.make_staff(s, f"clerk{i + 1}"),
            )
            for i in range(count)
        ]


def assert_each_ticket_called_once(db, called_lists: list[list[int]], expected: int) -> None:
    called = [ticket_id for calls in called_lists for ticket_id in calls]
    assert len(called) == expected
    repeated = [tid for tid, n in Tally(called).items() if n > 1]
    assert repeated == [], f"tickets called twice: {repeated[:10]}"
    with db.read() as s:
        call_events = s.execute(
            select(TicketEvent.ticket_id, func.count())
            .where(TicketEvent.action == "call")
            .group_by(TicketEvent.ticket_id)
            .having(func.count() > 1)
        ).all()
        assert call_events == []
        assert s.scalar(select(func.count()).where(TicketEvent.action == "call")) == expected


def assert_ledgers_hold(db) -> None:
    """Every day's fairness ledger is one linear chain holding every ticket event once,
    however many processes wrote to it (server/ledger/chain.py)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from server.ledger.seal import seal_day
    from server.ledger.verify import VERIFIED, verify_database
    from server.models import Center, LedgerHead

    key = Ed25519PrivateKey.generate()
    with db.write() as s:
        chains = s.execute(select(LedgerHead.center_id, LedgerHead.day)).all()
        for center_id, day in chains:
            seal_day(s, s.get(Center, center_id), day, key)
    with db.read() as s:
        for center_id, day in chains:
            report = verify_database(s, s.get(Center, center_id), day, key.public_key())
            # verify_database holds every ticket event against exactly one entry.
            assert report.outcome == VERIFIED, report.summary()


def assert_numbers_gap_free(db) -> None:
    with db.read() as s:
        rows = s.execute(select(Ticket.prefix, Ticket.business_day, Ticket.number)).all()
    by_day: dict[tuple, list[int]] = {}
    for prefix, day, number in rows:
        by_day.setdefault((prefix, day), []).append(number)
    for key, numbers in by_day.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), f"gap or repeat in {key}"


@pytest.mark.slow
def test_eight_threads_call_next_500_times_each(db):
    threads, calls = 8, 500
    with db.write() as s:
        center = factories.make_center(s, **busy_center_spec(threads))
    fill_queue(db, center, threads * calls + 50)
    workers = staff_for_counters(db, center, threads)

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda w: work_counter(db, w[0], w[1], calls), workers))

    assert_each_ticket_called_once(db, results, threads * calls)
    assert_numbers_gap_free(db)
    with db.read() as s:
        waiting = s.scalar(select(func.count()).where(Ticket.status == "waiting"))
    assert waiting == 50


@pytest.mark.slow
def test_four_processes_call_next_500_times_each(db, database_url):
    processes, calls = 4, 500
    with db.write() as s:
        center = factories.make_center(s, **busy_center_spec(processes))
    fill_queue(db, center, processes * calls + 20)
    workers = staff_for_counters(db, center, processes)

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        futures = [
            pool.submit(work_counter_in_process, database_url, counter_id, staff, calls)
            for counter_id, staff in workers
        ]
        results = [future.result(timeout=600) for future in futures]

    assert_each_ticket_called_once(db, results, processes * calls)
    assert_ledgers_hold(db)


def issue_many(db: Database, center_code: str, kiosk: Actor, count: int, key_prefix: str):
    numbers = []
    for i in range(count):
        with db.write() as s:
            result = queue.issue_ticket(
                s,
                center_code,
                SERVICES[i % 2],
                "en",
                None,
                kiosk,
                idempotency_key=f"{key_prefix}-{i}",
            )
            numbers.append(result.ticket.display_number)
    return numbers


def issue_many_in_process(url: str, center_code: str, kiosk: Actor, count: int, key_prefix: str):
    db = Database(url)
    try:
        return issue_many(db, center_code, kiosk, count, key_prefix)
    finally:
        db.dispose()


@pytest.mark.slow
def test_many_kiosks_issue_at_once_without_duplicate_or_missing_numbers(db, database_url):
    spec = busy_center_spec(2)
    spec["devices"] = [{"kind": "kiosk", "name": f"kiosk-{i}"} for i in range(8)]
    with db.write() as s:
        center = factories.make_center(s, **spec)
        kiosks = [
            queue.Actor("device", factories.device(s, center, f"kiosk-{i}").id, center.id, "kiosk")
            for i in range(8)
        ]
    # Six kiosks as threads in this process, two as separate processes.
    context = multiprocessing.get_context("spawn")
    with (
        ThreadPoolExecutor(6) as threads,
        ProcessPoolExecutor(2, mp_context=context) as processes,
    ):
        futures = [
            threads.submit(issue_many, db, center.code, kiosk, 100, f"k{i}")
            for i, kiosk in enumerate(kiosks[:6])
        ] + [
            processes.submit(issue_many_in_process, database_url, center.code, kiosk, 100, "p")
            for kiosk in kiosks[6:]
        ]
        numbers = [n for future in futures for n in future.result(timeout=600)]

    assert len(numbers) == 800
    assert len(set(numbers)) == 800
    assert_numbers_gap_free(db)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 800
    assert_ledgers_hold(db)
