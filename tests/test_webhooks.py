"""Signed webhooks, end to end on loopback: a receiver that verifies every request with
the ``standardwebhooks`` library gets one signed event per change, retries bring it
through after failures, rotation signs with both secrets, a run of failures disables a
subscription (and the API says so), the staff API holds to its roles and its input,
and a server killed with ``kill -9`` mid-send sends the event again with the same
``webhook-id``."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from server.models import OutboxMessage, utcnow
from server.notify.channels import webhook as signing
from server.notify.worker import deliver_due

from . import factories
from .api_helpers import PREFIX, add_staff, assert_error, bearer, call_next, issue, setup_api
from .live import start_live_server
from .webhook_receiver import Receiver


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


def subscribe(client, headers, url, events=("*",), center="baku-1") -> dict:
    r = client.post(
        f"{PREFIX}/webhooks",
        json={"url": url, "events": list(events), "center": center},
        headers=headers,
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def pending(db, webhook_id: int) -> list:
    """(id, next_attempt_at) of the webhook's pending messages."""
    with db.read() as s:
        return list(
            s.execute(
                select(OutboxMessage.id, OutboxMessage.next_attempt_at)
                .where(OutboxMessage.subscription_id == webhook_id)
                .where(OutboxMessage.state == "pending")
            )
        )


# --- in-process: the producer, the worker's rounds, the API -----------------------------------


def test_each_change_is_one_signed_event(app, client, db, api, receiver):
    hook = subscribe(client, api.manager, receiver.url)
    receiver.secrets = [hook["secret"]]
    assert hook["secret"].startswith("whsec_") and hook["active"] is True
    ticket = issue(client, api)
    assert call_next(client, api).status_code == 200
    assert deliver_due(app, "test") == 3  # calling opened the counter too
    [issued], [called] = receiver.of_type("ticket.issued"), receiver.of_type("ticket.called")
    [opened] = receiver.of_type("counter.updated")
    assert (opened.data["label"], opened.data["state"]) == ("1", "open")
    assert opened.id.startswith("evt_c")
    assert issued.data == {
        "number": ticket["number"],
        "service": "pension-new",
        "language": "az",
        "created_at": ticket["created_at"],
        "center": "baku-1",
    }
    assert called.data["counter"] == "1" and called.data["number"] == ticket["number"]
    assert issued.id != called.id and issued.id.startswith("evt_te")
    for event in (issued, called):
        assert event.headers["User-Agent"] == "Novbe-Webhooks/1"
        assert event.headers["Content-Type"] == "application/json"
        assert ticket["tracking_token"].encode() not in event.body  # nothing private
    assert deliver_due(app, "test") == 0  # each once
    # The log says so, newest first, with the receiver's answers.
    log = client.get(f"{PREFIX}/webhooks/{hook['id']}/deliveries", headers=api.manager)
    rows = log.get_json()["deliveries"]
    assert [d["state"] for d in rows] == ["sent"] * 3
    assert [d["id"] for d in rows] == sorted((d["id"] for d in rows), reverse=True)
    [row] = [d for d in rows if d["kind"] == "ticket.called"]
    assert row["ticket"] == ticket["number"] and row["log"][0]["status"] == 204


def test_only_the_events_asked_for_and_only_of_its_center(app, client, db, api, receiver):
    hook = subscribe(client, api.manager, receiver.url, events=["ticket.called"])
    receiver.secrets = [hook["secret"]]
    issue(client, api)
    issue(client, api, headers=api.other_kiosk, center="ganja-1")
    call_next(client, api)
    assert deliver_due(app, "test") == 1
    assert [r.type for r in receiver.received] == ["ticket.called"]
    # A network subscription (admins) hears every center.
    network = subscribe(client, api.admin, receiver.url, events=["ticket.issued"], center=None)
    receiver.secrets.append(network["secret"])
    issue(client, api, headers=api.other_kiosk, center="ganja-1")
    assert deliver_due(app, "test") == 1
    assert receiver.received[-1].data["center"] == "ganja-1"


def test_a_receiver_that_fails_three_times_gets_the_event(app, client, db, api, receiver):
    hook = subscribe(client, api.manager, receiver.url, events=["ticket.issued"])
    receiver.secrets, receiver.fail_first = [hook["secret"]], 3
    issue(client, api)
    now = utcnow()
    for _ in range(3):
        assert deliver_due(app, "test", now=now) == 1
        [message] = pending(db, hook["id"])
        assert message.next_attempt_at > now  # backed off ...
        assert deliver_due(app, "test", now=now) == 0  # ... and not due before
        now = message.next_attempt_at
    assert deliver_due(app, "test", now=now) == 1
    assert pending(db, hook["id"]) == []
    assert len({r.id for r in receiver.received}) == 1 and len(receiver.received) == 4
    [row] = client.get(
        f"{PREFIX}/webhooks/{hook['id']}/deliveries", headers=api.manager
    ).get_json()["deliveries"]
    assert [a["status"] for a in row["log"]] == [500, 500, 500, 204]
    assert row["log"][0]["response"] == "not today" and row["attempts"] == 4
    assert (
        client.get(f"{PREFIX}/webhooks/{hook['id']}", headers=api.manager).get_json()["failures"]
        == 0
    )


def test_rotation_signs_with_both_secrets_for_a_day(app, client, db, api, receiver):
    hook = subscribe(client, api.manager, receiver.url)
    r = client.post(f"{PREFIX}/webhooks/{hook['id']}/rotate-secret", headers=api.manager)
    assert r.status_code == 200
    new = r.get_json()["secret"]
    assert new != hook["secret"]
    receiver.secrets = [hook["secret"], new]
    assert (
        client.post(f"{PREFIX}/webhooks/{hook['id']}/ping", headers=api.manager).status_code == 202
    )
    assert deliver_due(app, "test") == 1
    [ping] = receiver.received
    assert ping.type == "webhook.ping" and ping.verified_by == [0, 1]
    assert len(ping.headers["webhook-signature"].split()) == 2
    # A day later the old one no longer signs.
    with db.write() as s:
        [message] = s.scalars(select(OutboxMessage)).all()
        message.state, message.next_attempt_at = "pending", utcnow()
    later = utcnow() + timedelta(hours=24, minutes=1)
    from server.models import WebhookSubscription

    with db.read() as s:
        subscription = s.get(WebhookSubscription, hook["id"])
        assert signing.live_secrets(subscription.secrets, later) == [new]


def test_a_run_of_failures_disables_the_webhook_until_enabled(app, client, db, api, receiver):
    app.config["WEBHOOK_DISABLE_AFTER"] = 3
    app.config["WEBHOOK_DISABLE_AFTER_S"] = 0  # the run's length: its own test
    hook = subscribe(client, api.manager, receiver.url, events=["ticket.issued"])
    receiver.secrets, receiver.fail_always = [hook["secret"]], True
    for _ in range(3):
        issue(client, api)
    assert deliver_due(app, "test") == 3
    state = client.get(f"{PREFIX}/webhooks/{hook['id']}", headers=api.manager).get_json()
    assert state["active"] is False and state["failures"] == 3
    assert state["disabled_reason"].startswith("failed 3 times in a row since ")
    assert state["disabled_at"] is not None
    issue(client, api)  # not produced while disabled
    assert len(pending(db, hook["id"])) == 3
    # Its pending messages wait (they are not due while it is disabled) ...
    assert deliver_due(app, "test", now=utcnow() + timedelta(hours=3)) == 0
    # ... and go out when it is enabled again.
    receiver.fail_always = False
    r = client.patch(f"{PREFIX}/webhooks/{hook['id']}", json={"active": True}, headers=api.manager)
    assert r.status_code == 200 and r.get_json()["failures"] == 0
    assert r.get_json()["disabled_reason"] is None
    assert deliver_due(app, "test") == 3
    assert pending(db, hook["id"]) == []


def test_replay_sends_the_same_event_id_again(app, client, db, api, receiver):
    hook = subscribe(client, api.manager, receiver.url)
    receiver.secrets = [hook["secret"]]
    issue(client, api)
    deliver_due(app, "test")
    [row] = client.get(f"{PREFIX}/centers/baku-1/deliveries", headers=api.manager).get_json()[
        "deliveries"
    ]
    assert row["webhook"] == hook["id"] and row["state"] == "sent"
    assert (
        client.post(
            f"{PREFIX}/deliveries/{row['id']}/replay", headers=api.other_manager
        ).status_code
        == 403
    )
    r = client.post(f"{PREFIX}/deliveries/{row['id']}/replay", headers=api.manager)
    assert r.status_code == 202
    assert deliver_due(app, "test") == 1
    first, again = receiver.received
    assert first.id == again.id and first.body != b"" and first.data == again.data


def test_who_may_manage_webhooks(app, client, db, api, center, receiver):
    hook = subscribe(client, api.manager, receiver.url)
    path = f"{PREFIX}/webhooks/{hook['id']}"
    with db.write() as s:
        reception = bearer(
            factories.staff_token(s, add_staff(s, "rita", "reception", center).username)
        )
    assert_error(client.get(path), 401, "unauthorized")
    assert_error(client.get(f"{PREFIX}/webhooks"), 401, "unauthorized")
    for who in (api.staff, reception, api.kiosk):
        assert_error(client.get(path, headers=who), 403, "forbidden")
        assert_error(client.get(f"{PREFIX}/webhooks", headers=who), 403, "forbidden")
        r = client.post(
            f"{PREFIX}/webhooks", json={"url": receiver.url, "events": ["*"]}, headers=who
        )
        assert_error(r, 403, "forbidden")
    for method in ("get", "patch", "delete"):
        r = getattr(client, method)(path, json={"active": False}, headers=api.other_manager)
        assert_error(r, 403, "forbidden")
    assert_error(
        client.get(f"{PREFIX}/centers/baku-1/deliveries", headers=api.other_manager),
        403,
        "forbidden",
    )
    assert_error(client.post(f"{path}/rotate-secret", headers=api.other_manager), 403, "forbidden")
    # A network webhook: admins only.
    r = client.post(
        f"{PREFIX}/webhooks",
        json={"url": receiver.url, "events": ["*"], "center": None},
        headers=api.manager,
    )
    assert_error(r, 403, "forbidden")
    # Lists: a manager sees their center's, an admin every one.
    other = subscribe(client, api.other_manager, receiver.url, center="ganja-1")
    mine = client.get(f"{PREFIX}/webhooks", headers=api.manager).get_json()["webhooks"]
    assert [h["id"] for h in mine] == [hook["id"]]
    every = client.get(f"{PREFIX}/webhooks", headers=api.admin).get_json()["webhooks"]
    assert {h["id"] for h in every} == {hook["id"], other["id"]}
    assert "secret" not in mine[0]
    assert client.delete(path, headers=api.admin).status_code == 204
    assert_error(client.get(path, headers=api.admin), 404, "webhook_not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x", "events": ["*"]}, "url"),
        ({"url": "https://user:pw@example.com/x", "events": ["*"]}, "url"),
        ({"url": "https://", "events": ["*"]}, "url"),
        ({"url": "https://example.com/" + "a" * 2100, "events": ["*"]}, "url"),
        ({"url": "https://example.com/x", "events": ["ticket.eaten"]}, "events"),
        ({"url": "https://example.com/x", "events": []}, "events"),
        ({"url": "https://example.com/x"}, "events"),
        ({"events": ["*"]}, "url"),
        ({"url": "https://example.com/x", "events": ["*"], "secret": "mine"}, "secret"),
    ],
)
def test_bad_input_names_the_field(client, db, api, body, field):
    r = client.post(f"{PREFIX}/webhooks", json={"center": "baku-1", **body}, headers=api.manager)
    assert_error(r, 422, "invalid_input", field=field)
    assert client.get(f"{PREFIX}/webhooks", headers=api.manager).get_json()["webhooks"] == []


def test_a_bad_signature_or_an_old_timestamp_is_refused_by_our_verifier():
    secret = signing.new_secret()
    body = b'{"type":"webhook.ping","timestamp":"2026-12-05T00:00:00Z","data":{}}'
    now = int(time.time())
    good = signing.headers("evt_1", now, body, [secret])
    assert signing.verify(secret, good, body)
    assert not signing.verify(secret, good, body + b" ")
    assert not signing.verify(signing.new_secret(), good, body)
    old = signing.headers("evt_1", now - 301, body, [secret])
    assert not signing.verify(secret, old, body)


# --- a live server ------------------------------------------------------------------------------


def live_subscribe(server, center, url, events=("*",)) -> dict:
    r = server.api(
        "POST",
        "/webhooks",
        center.manager_token,
        json={"url": url, "events": list(events), "center": center.code},
    )
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.e2e
def test_the_live_server_sends_a_signed_event_per_change(live_server, receiver):
    center = live_server.new_center()
    receiver.secrets = [live_subscribe(live_server, center, receiver.url)["secret"]]
    ticket = live_server.issue(center, "pension-new")
    live_server.call_next(center, "1")
    receiver.wait_for(lambda r: r.type == "ticket.called")
    receiver.wait_for(lambda r: r.type == "ticket.issued")
    numbers = [(r.type, r.data["number"]) for r in receiver.received if r.type.startswith("ticket")]
    # Sent in parallel: no order between events (docs/webhooks.md), each once.
    assert sorted(numbers) == [
        ("ticket.called", ticket["number"]),
        ("ticket.issued", ticket["number"]),
    ]
    assert receiver.refused == 0


@pytest.mark.e2e
def test_a_slow_receiver_slows_neither_issuing_nor_other_receivers(live_server, receiver):
    center = live_server.new_center()
    slow = Receiver(delay_s=10).start()
    try:
        slow.secrets = [live_subscribe(live_server, center, slow.url)["secret"]]
        receiver.secrets = [live_subscribe(live_server, center, receiver.url)["secret"]]
        for _ in range(3):
            started = time.monotonic()
            ticket = live_server.issue(center, "pension-new")
            assert time.monotonic() - started < 2  # generous: the send is not in the request
        slow.arrived.wait(10)
        # The fast one has all three while the slow one still sleeps on its first.
        receiver.wait_for(lambda r: r.data.get("number") == ticket["number"], timeout=8)
        assert len(receiver.of_type("ticket.issued")) == 3
    finally:
        slow.stop()


@pytest.mark.e2e
@pytest.mark.slow  # waits out the dead server's claim (15 s here, 60 s by default)
def test_a_kill_mid_send_sends_the_event_again_with_the_same_id(tmp_path, receiver):
    server = start_live_server(tmp_path, env={"NOVBE_OUTBOX_CLAIM_S": "15"})
    try:
        center = server.new_center()
        receiver.secrets = [live_subscribe(server, center, receiver.url)["secret"]]
        receiver.hold = threading.Event()
        server.issue(center, "pension-new")
        assert receiver.arrived.wait(15), "the event never left"
        server.kill()  # kill -9 while the receiver holds the request: no answer recorded
        receiver.hold.set()
        receiver.hold = None
        server = server.restart()
        [first, again] = receiver.wait_for(lambda r: len(receiver.received) >= 2, timeout=90)[:2]
        assert first.id == again.id  # at least once, the same id: the receiver dedupes
        assert len({r.id for r in receiver.received}) == 1
    finally:
        server.stop()


def test_every_answer_matches_the_document(app, client, db, api, receiver):
    import json

    from server.api.openapi import SPEC_PATH

    from .test_openapi import check

    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    r = client.post(
        f"{PREFIX}/webhooks",
        json={"url": receiver.url, "events": ["*"], "center": "baku-1", "description": "CRM"},
        headers=api.manager,
    )
    hook = check(spec, r, "POST", "/webhooks")
    receiver.secrets = [hook["secret"]]
    one = "/webhooks/{webhook_id}"
    path = f"{PREFIX}/webhooks/{hook['id']}"
    check(spec, client.get(f"{PREFIX}/webhooks", headers=api.manager), "GET", "/webhooks")
    check(spec, client.get(path, headers=api.manager), "GET", one)
    r = client.patch(path, json={"events": ["ticket.called"]}, headers=api.manager)
    assert check(spec, r, "PATCH", one)["events"] == ["ticket.called"]
    r = client.post(f"{path}/rotate-secret", headers=api.manager)
    check(spec, r, "POST", one + "/rotate-secret")
    check(spec, client.post(f"{path}/ping", headers=api.manager), "POST", one + "/ping")
    deliver_due(app, "test")
    r = client.get(f"{path}/deliveries?state=sent&limit=5", headers=api.manager)
    [row] = check(spec, r, "GET", one + "/deliveries")["deliveries"]
    r = client.get(f"{PREFIX}/centers/baku-1/deliveries?channel=webhook", headers=api.manager)
    check(spec, r, "GET", "/centers/{center_code}/deliveries")
    r = client.get(f"{PREFIX}/centers/baku-1/deliveries?state=lost", headers=api.manager)
    assert_error(r, 422, "invalid_input", field="state")
    r = client.post(f"{PREFIX}/deliveries/{row['id']}/replay", headers=api.manager)
    check(spec, r, "POST", "/deliveries/{delivery_id}/replay")
    r = client.post(f"{PREFIX}/deliveries/999999/replay", headers=api.manager)
    assert check(spec, r, "POST", "/deliveries/{delivery_id}/replay")["error"]["code"] == (
        "delivery_not_found"
    )
    check(spec, client.delete(path, headers=api.manager), "DELETE", one)


def test_the_cli_receiver_verifies_and_answers():
    """``novbe webhook-receiver``'s handler: 204 for a signed event, 401 otherwise, and
    it says when an id comes again."""
    from http.server import ThreadingHTTPServer

    import requests

    from server.cli.webhooks import make_handler

    secret, printed = signing.new_secret(), []
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), make_handler(secret, echo=lambda text, **_: printed.append(text))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        body = signing.body_bytes({"type": "webhook.ping", "timestamp": "x", "data": {"a": 1}})
        headers = signing.headers("evt_1", int(time.time()), body, [secret])
        assert requests.post(url, data=body, headers=headers, timeout=5).status_code == 204
        assert requests.post(url, data=body, headers=headers, timeout=5).status_code == 204
        assert printed[0] == "evt_1 webhook.ping" and "again" in printed[2]
        forged = signing.headers("evt_2", int(time.time()), body, [signing.new_secret()])
        assert requests.post(url, data=body, headers=forged, timeout=5).status_code == 401
        stale = signing.headers("evt_3", int(time.time()) - 600, body, [secret])
        assert requests.post(url, data=body, headers=stale, timeout=5).status_code == 401
    finally:
        server.shutdown()
        server.server_close()


def test_every_counter_and_recall_change_is_an_event_of_its_own(app, client, db, api, receiver):
    """A recall and a change of a counter's services are new events (new ids), not
    taken for the call or the opening before them."""
    hook = subscribe(client, api.manager, receiver.url, events=["counter.updated", "ticket.called"])
    receiver.secrets = [hook["secret"]]
    counter = api.counters["1"]
    r = client.post(f"{PREFIX}/counters/{counter}/state", json={"state": "open"}, headers=api.staff)
    assert r.status_code == 200
    r = client.put(
        f"{PREFIX}/counters/{counter}/services",
        json={"services": ["pension-new"]},
        headers=api.manager,
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    ticket = issue(client, api)
    call_next(client, api)
    assert (
        client.post(
            f"{PREFIX}/tickets/{ticket['id']}/recall", json={}, headers=api.staff
        ).status_code
        == 200
    )
    deliver_due(app, "test")
    counters = receiver.of_type("counter.updated")
    # (sent at once on the pool: they may arrive in any order)
    assert sorted(len(c.data["services"]) for c in counters) == [1, 2]
    calls = receiver.of_type("ticket.called")
    assert sorted(c.data["recall_count"] for c in calls) == [0, 1]
    ids = [r.id for r in receiver.received]
    assert len(ids) == len(set(ids)) == 4


def test_an_alert_goes_to_those_who_asked_for_it(app, client, db, api, receiver):
    from server.notify.webhooks import produce_alert

    alert = {"kind": "printer", "active": True, "device": "kiosk-1", "problem": "paper_out"}
    assert produce_alert(db, 1, alert) == 0  # nobody subscribed: not even a write
    hook = subscribe(client, api.manager, receiver.url, events=["alert"])
    subscribe(client, api.manager, receiver.url, events=["ticket.called"])
    receiver.secrets = [hook["secret"]]
    with db.read() as s:
        from server.models import Center

        center_id = s.scalar(select(Center.id).where(Center.code == "baku-1"))
    assert produce_alert(db, center_id, alert) == 1
    assert deliver_due(app, "test") == 1
    [event] = receiver.received
    assert event.type == "alert" and event.data == {**alert, "center": "baku-1"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",  # this machine
        "http://10.1.2.3/hook",  # the center's private network
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "http://[::1]:9/hook",
        "http://localhost:9/hook",  # a name that resolves to loopback
    ],
)
def test_private_addresses_are_refused_unless_allowed(app, client, db, api, url):
    """A manager must not point the server at its own network and read the answers in
    the delivery log (SSRF); NOVBE_WEBHOOK_PRIVATE_ADDRESSES allows it (tests, demo)."""
    app.config["WEBHOOK_PRIVATE_ADDRESSES"] = False
    r = client.post(
        f"{PREFIX}/webhooks",
        json={"center": "baku-1", "url": url, "events": ["*"]},
        headers=api.manager,
    )
    assert_error(r, 422, "invalid_input", field="url")
    assert "private" in r.get_json()["error"]["message"]
    app.config["WEBHOOK_PRIVATE_ADDRESSES"] = True
    assert subscribe(client, api.manager, url)["url"] == url


def test_a_url_that_resolves_privately_later_is_not_sent_to(app, client, db, api, receiver):
    """Checked again at each send: a name can be pointed elsewhere after subscribing."""
    subscribe(client, api.manager, receiver.url, events=["ticket.issued"])
    app.config["WEBHOOK_PRIVATE_ADDRESSES"] = False  # as if 127.0.0.1 had been public then
    issue(client, api)
    deliver_due(app, "w-test")
    assert receiver.of_type("ticket.issued") == []
    with db.read() as s:
        state, error = s.execute(
            select(OutboxMessage.state, OutboxMessage.last_error).where(
                OutboxMessage.kind == "ticket.issued"
            )
        ).one()
    assert state == "pending" and "resolves to 127.0.0.1" in error
