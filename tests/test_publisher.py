"""The live channel's publisher and its listeners, with a recording emitter in place of
Socket.IO: which events a committed change sends, to which rooms, on every backend."""

from __future__ import annotations

import pytest

from server import queue
from server.cluster import LocalCluster
from server.extensions import socketio
from server.queue.changes import Change, ChangeKind
from server.realtime.emitter import RecordingEmitter
from server.realtime.public_stats import PublicStats
from server.realtime.publisher import Publisher
from server.realtime.rooms import NETWORK_ROOM, center_room, ticket_room

from . import factories


@pytest.fixture
def recorded(app, db):
    emitter = RecordingEmitter()
    cluster = LocalCluster()
    publisher = Publisher(emitter, db, cluster, PublicStats(emitter, socketio, 0), interval=0)
    return publisher, emitter, cluster


def test_an_issued_ticket_goes_to_its_center_with_its_figures(db, center, recorded):
    publisher, emitter, cluster = recorded
    heard = []
    cluster.subscribe("changed", lambda body, local: heard.append(body))
    with db.write() as s:
        kiosk = factories.kiosk_actor(s, center)
        ticket = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, kiosk).ticket
        ticket_id, center_id = ticket.id, ticket.center_id

    publisher.publish([Change(ChangeKind.TICKET, "issue", ticket_id)], "http://kiosk.example/")

    issued = emitter.named("ticket.issued")
    assert [(sent.room, sent.data["number"]) for sent in issued] == [
        (center_room(center_id), "A001")
    ]
    [stats] = emitter.named("queue.stats")
    waiting = {row["service"]: row["waiting"] for row in stats.data["services"]}
    assert waiting["pension-new"] == 1
    [row] = emitter.named("network.center")
    assert row.room == NETWORK_ROOM and row.data["waiting"] == 1
    # Issuing moves no service's load: other processes keep their caches.
    assert heard == [{"centers": [center_id], "forget_loads": []}]


def test_a_call_reaches_the_ticket_and_moves_the_others_places(db, center, recorded):
    publisher, emitter, _ = recorded
    with db.write() as s:
        kiosk = factories.kiosk_actor(s, center)
        first = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, kiosk).ticket
        second = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, kiosk).ticket
        first_id, first_token, second_token = first.id, first.tracking_token, second.tracking_token
        counter = factories.counter(s, center, "1").id
        center_id = second.center_id
    publisher.visitors.add("sid-2", second_token, center_id)  # the second visitor's phone is here
    with db.write() as s:
        queue.call_next(s, counter, factories.make_staff(s, "alice"))

    publisher.publish([Change(ChangeKind.TICKET, "call", first_id, (counter,))])

    called_rooms = {sent.room for sent in emitter.named("ticket.called")}
    assert ticket_room(first_token) in called_rooms
    [place] = [s for s in emitter.named("ticket.updated") if s.room == ticket_room(second_token)]
    assert place.data["position"] == 1 and place.local  # each process its own phones
    assert [s.room for s in emitter.named("counter.updated")] == [f"counter:{counter}"]


def test_every_kind_of_change_says_whether_it_moves_loads():
    for kind in ChangeKind:
        assert isinstance(Change(kind, "x", 1).changes_loads, bool)
    assert not Change(ChangeKind.TICKET, "issue", 1).changes_loads
    assert Change(ChangeKind.TICKET, "complete", 1).changes_loads
    assert not Change(ChangeKind.PRINT, "printed", 1).changes_loads
    assert Change(ChangeKind.COUNTER, "open", 1).changes_loads


def test_today_figures_are_refreshed_at_most_every_day_figures_s(app, db, center):
    """Today's service level and approval rate aggregate the whole day: the live channel
    keeps them for ``day_figures_s`` while the queue figures follow every change."""
    emitter, cluster = RecordingEmitter(), LocalCluster()
    publisher = Publisher(
        emitter, db, cluster, PublicStats(emitter, socketio, 0), interval=0, day_figures_s=3600
    )
    heard = []
    cluster.subscribe("changed", lambda body, local: heard.append(body))
    with db.write() as s:
        kiosk = factories.kiosk_actor(s, center)
        staff = factories.make_staff(s, "clerk-today")
        ticket = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, kiosk).ticket
        ticket_id, center_id = ticket.id, ticket.center_id
        counter = factories.counter(s, center, "1").id
        queue.set_counter_state(s, counter, "open", staff)
    publisher.publish([Change(ChangeKind.TICKET, "issue", ticket_id)])
    with db.write() as s:
        queue.call_next(s, counter, staff)
    publisher.publish([Change(ChangeKind.TICKET, "call", ticket_id, (counter,), center_id)])

    rows = emitter.named("network.center")
    assert [row.data["waiting"] for row in rows] == [1, 0, 0]  # the queue: every change
    # The day: the call's own pass sent the kept figures; one more pass when they
    # expire (the recording emitter skips the hour's sleep) sends the fresh ones, so
    # the last call before a quiet spell still reaches the public page.
    assert [row.data["called"] for row in rows] == [0, 0, 1]
    assert heard[-1] == {"centers": [center_id], "forget_loads": []}  # a call moves no load

    publisher.figures.day_figures_s = 0
    publisher.publish([Change(ChangeKind.TICKET, "call", ticket_id, (counter,), center_id)])
    assert emitter.named("network.center")[-1].data["called"] == 1


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, None), (0, 0), (59, 0), (60, 1), (89, 1), (90, 2), (150, 3), (3569, 59)],
)
def test_a_wait_is_compared_as_the_phone_shows_it(seconds, shown):
    """novbe.js waitText: unknown, under a minute, or minutes rounded half up."""
    from server.realtime.figures import shown_wait

    assert shown_wait(seconds) == shown


def test_a_phone_hears_of_its_wait_only_when_the_minutes_it_shows_change(db, center, recorded):
    """Each visitor served moves every waiting phone's estimate by seconds: only a change
    the visitor would see is sent (a network's phones otherwise all heard of each one)."""
    from datetime import timedelta

    from server.models import utcnow

    publisher, emitter, _ = recorded
    with db.write() as s:
        kiosk = factories.kiosk_actor(s, center)
        staff = factories.make_staff(s, "clerk-minutes")
        counter = factories.counter(s, center, "1").id
        queue.set_counter_state(s, counter, "open", staff)
        ticket = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, kiosk).ticket
        token, center_id = ticket.tracking_token, ticket.center_id
    publisher.visitors.add("sid-minutes", token, center_id)

    def served_for(seconds: float) -> None:
        """A pension-new visitor served at counter 1 for ``seconds``, just now."""
        end = utcnow()
        with db.write() as s:
            other = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, kiosk).ticket
            queue.call_ticket(s, counter, other.id, "other", staff, now=end - timedelta(hours=1))
            queue.start(s, other.id, staff, now=end - timedelta(seconds=seconds))
            queue.complete(s, other.id, staff, now=end)
        publisher.positions.emit({center_id})

    def waits_heard() -> list[int]:
        return [
            sent.data["estimated_wait_s"]
            for sent in emitter.named("ticket.updated")
            if sent.room == ticket_room(token)
        ]

    publisher.positions.emit({center_id})  # at place 1: half the default 5 minutes
    assert waits_heard() == [150]
    served_for(320)  # the average 320 s: 160 s, still "3 minutes"
    served_for(500)  # (320 + 500) / 2: 205 s, "3 minutes"
    assert waits_heard() == [150]
    served_for(900)  # (320 + 500 + 900) / 3: 287 s, "5 minutes"
    assert waits_heard() == [150, 287]
