"""A center's notification settings: defaults, validation naming the field, secrets
masked both ways, the API's roles, and the audit of a change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.errors import InvalidInput
from server.models import AuditEntry, Center
from server.notify import settings

from .api_helpers import PREFIX, assert_error, setup_api

URL = f"{PREFIX}/centers/baku-1/notifications"
SMS = {
    "enabled": True,
    "url": "https://sms.example/send",
    "headers": {"Authorization": "Bearer very-secret-77"},
}
EMAIL = {
    "enabled": True,
    "host": "smtp.example",
    "port": 465,
    "security": "ssl",
    "username": "center",
    "password": "pa55word-xy",
    "sender": "Növbə <novbe@example.test>",
}
TELEGRAM = {"enabled": True, "token": "123:ABCtoken-zz", "bot_username": "@novbe_bot"}


def test_defaults_every_channel_off_and_the_triggers_on():
    values = settings.effective({})
    assert not any(values[c]["enabled"] for c in settings.VISITOR_CHANNELS)
    assert values["triggers"] == {
        "issued": True,
        "almost": True,
        "almost_position": 3,
        "almost_minutes": 10,
        "called": True,
        "reminders": True,
        "rating": True,
    }
    assert settings.enabled_channels({}) == []


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"sms": {"url": "ftp://x"}}, "sms.url", "must be an http(s) URL"),
        ({"sms": {"enabled": True}}, "sms.url", "needed when sms is enabled"),
        ({"sms": {"body": "{text}"}}, "sms.body", "{to}"),
        ({"sms": {"content_type": "text/xml"}}, "sms.content_type", "must be one of"),
        ({"sms": {"headers": {"Bad Header": "x"}}}, "sms.headers.Bad Header", "header name"),
        ({"email": {"security": "tls"}}, "email.security", "must be one of"),
        ({"email": {"port": 0}}, "email.port", "port number"),
        ({"email": {"sender": "not an address"}}, "email.sender", "well formed"),
        ({"email": {"enabled": True, "host": "smtp.x"}}, "email.sender", "needed"),
        ({"telegram": {"base_url": "telegram"}}, "telegram.base_url", "http(s) URL"),
        ({"telegram": {"enabled": "yes"}}, "telegram.enabled", "true or false"),
        ({"triggers": {"almost_position": 0}}, "triggers.almost_position", "from 1 to 50"),
        ({"triggers": {"almost_minutes": 241}}, "triggers.almost_minutes", "from 0 to 240"),
        ({"triggers": {"almost": 1}}, "triggers.almost", "true or false"),
        ({"pigeon": {}}, "pigeon", "not a notification setting"),
        ({"webpush": {"vapid": "x"}}, "webpush.vapid", "not a notification setting"),
        ({"sms": "on"}, "sms", "must be an object"),
    ],
)
def test_validation_names_the_field(payload, field, words):
    with pytest.raises(InvalidInput) as raised:
        settings.validate(payload, {})
    assert raised.value.details["field"] == field
    assert raised.value.message.startswith(field) and words in raised.value.message


def test_a_masked_secret_sent_back_keeps_the_stored_one():
    stored = settings.validate({"sms": SMS, "email": EMAIL, "telegram": TELEGRAM}, {})
    assert stored["telegram"]["bot_username"] == "novbe_bot"
    view = settings.public_view(stored)
    assert view["sms"]["headers"]["Authorization"] == "••••77"
    assert view["email"]["password"] == "••••xy"
    assert view["telegram"]["token"] == "••••zz"
    assert "very-secret" not in repr(view) and "pa55word" not in repr(view)
    # the admin page sends the whole view back with one change
    again = settings.validate({**view, "triggers": {"rating": False}}, stored)
    assert again["sms"]["headers"]["Authorization"] == "Bearer very-secret-77"
    assert again["email"]["password"] == "pa55word-xy"
    assert again["telegram"]["token"] == "123:ABCtoken-zz"
    assert again["triggers"]["rating"] is False
    # a new value replaces; a mask that is not the stored one's is refused
    assert settings.validate({"email": {"password": "new"}}, stored)["email"]["password"] == "new"
    with pytest.raises(InvalidInput) as raised:
        settings.validate({"email": {"password": "••••ab"}}, stored)
    assert raised.value.details["field"] == "email.password"


def test_enabled_channels_are_enabled_and_configured(app):
    stored = settings.validate({"sms": SMS, "webpush": {"enabled": True}}, {})
    assert settings.enabled_channels(stored, app) == ["sms", "webpush"]
    # stored by hand, enabled but not configured: not offered
    assert settings.enabled_channels({"email": {"enabled": True}}, app) == []
    assert settings.delivery_settings(app, stored, "email") is None
    assert settings.delivery_settings(app, stored, "sms")["url"] == SMS["url"]
    push = settings.delivery_settings(app, stored, "webpush")
    assert push["vapid_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")


def test_webpush_is_not_offered_without_a_vapid_key(app, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    app.config["VAPID_KEY_FILE"] = str(blocker / "vapid.pem")  # cannot be made
    app.extensions.pop("novbe_vapid_key", None)
    assert settings.enabled_channels({"webpush": {"enabled": True}}, app) == []


# --- the API -----------------------------------------------------------------------------------


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


def test_get_shows_defaults_and_put_stores_masked(client, api, db):
    got = client.get(URL, headers=api.manager)
    assert got.status_code == 200, got.get_data(as_text=True)
    assert got.get_json()["notifications"]["triggers"]["almost_position"] == 3
    assert got.get_json()["usable_channels"] == []
    assert len(got.get_json()["vapid_public_key"]) == 87

    put = client.put(URL, json={"sms": SMS, "webpush": {"enabled": True}}, headers=api.admin)
    assert put.status_code == 200, put.get_data(as_text=True)
    body = put.get_json()
    assert body["notifications"]["sms"]["headers"] == {"Authorization": "••••77"}
    assert body["usable_channels"] == ["sms", "webpush"]

    # the masked value sent back keeps the secret
    view = client.get(URL, headers=api.manager).get_json()["notifications"]
    view["triggers"]["almost_position"] = 5
    assert client.put(URL, json=view, headers=api.manager).status_code == 200
    with db.read() as s:
        stored = s.scalar(select(Center).where(Center.code == "baku-1")).notifications
    assert stored["sms"]["headers"]["Authorization"] == "Bearer very-secret-77"
    assert stored["triggers"]["almost_position"] == 5


def test_put_refusal_names_the_field(client, api):
    response = client.put(URL, json={"sms": {"url": "mailto:x"}}, headers=api.manager)
    error = assert_error(response, 422, "invalid_input", field="sms.url")
    assert "sms.url must be an http(s) URL" in error["message"]


def test_put_is_audited_without_secrets(client, api, db):
    client.put(URL, json={"email": EMAIL}, headers=api.admin)
    client.put(URL, json={"email": {"password": "another-secret-99"}}, headers=api.admin)
    client.put(URL, json={"email": {"password": "another-secret-99"}}, headers=api.admin)
    with db.read() as s:
        entries = s.execute(
            select(AuditEntry.before, AuditEntry.after, AuditEntry.username)
            .where(AuditEntry.entity_type == "center", AuditEntry.action == "update")
            .order_by(AuditEntry.id)
        ).all()
    assert len(entries) == 2  # the same values again leave no trace
    text = repr([(e.before, e.after) for e in entries])
    assert "pa55word" not in text and "another-secret" not in text
    assert entries[1].after == {"notifications.email.password": "••••99 (new)"}
    assert entries[0].username == "root"


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (None, 401),
        ("kiosk", 403),
        ("staff", 403),
        ("other_manager", 403),
        ("other_staff", 403),
        ("manager", 200),
        ("admin", 200),
    ],
)
def test_who_may_read_and_change(client, api, who, status):
    headers = getattr(api, who) if who else {}
    assert client.get(URL, headers=headers).status_code == status
    put = client.put(URL, json={"triggers": {"rating": False}}, headers=headers)
    assert put.status_code == status, put.get_data(as_text=True)


def test_unknown_center_is_404(client, api):
    response = client.get(f"{PREFIX}/centers/nowhere/notifications", headers=api.admin)
    assert_error(response, 404, "center_not_found")


# --- the center file ---------------------------------------------------------------------------


def test_the_demo_center_file_turns_webpush_and_the_triggers_on(db, app):
    from pathlib import Path

    from server import importer

    path = Path(importer.__file__).parent / "demo" / "center.yaml"
    with db.write() as s:
        importer.import_center(s, importer.load_center_file(path))
    with db.read() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-1"))
        assert settings.enabled_channels(center, app) == ["webpush"]
        assert settings.triggers(center)["almost_position"] == 3


def test_a_bad_notifications_block_names_the_field_and_changes_nothing(db, center):
    from server import importer

    from . import factories

    spec = factories.center_spec(notifications={"sms": {"enabled": True, "url": "nope"}})
    with pytest.raises(importer.CenterFileError) as raised, db.write() as s:
        importer.import_center(s, spec)
    assert raised.value.details["field"] == "notifications.sms.url"
    assert raised.value.message == "notifications.sms.url: must be an http(s) URL"
    with db.read() as s:
        assert s.get(Center, center.id).notifications in ({}, None)


def test_vapid_keys_command_makes_the_key_once_and_prints_it(vapid_key_file, database_url):
    import os

    from click.testing import CliRunner

    from server.cli import main

    runner = CliRunner()
    env = {"NOVBE_DATABASE_URL": database_url}
    first = runner.invoke(main, ["vapid-keys"], env=env)
    assert first.exit_code == 0, first.output
    assert os.path.exists(vapid_key_file)
    again = runner.invoke(main, ["vapid-keys"], env=env)
    key = first.output.split("public key:")[1].strip()
    assert len(key) == 87 and key in again.output  # the same key, not a new one


# --- review fixes: junk tolerated, SMS countries, gateways are an admin's -----------------------


def test_effective_tolerates_junk_an_older_version_stored():
    junk = {
        "sms": {"enabled": "yes", "url": 5, "headers": ["x"], "countries": "994", "old": 1},
        "email": {"port": "587", "security": "tls", "host": None},
        "telegram": {"base_url": "ftp://x", "token": 12},
        "triggers": {"almost_position": 0, "almost_minutes": "10", "called": None, "x": 1},
        "webpush": "on",
        "legacy": {"a": 1},
    }
    assert settings.effective(junk) == settings.DEFAULTS
    assert settings.effective(["not", "a", "dict"]) == settings.DEFAULTS
    good = settings.effective({"triggers": {"almost_position": 7}, "sms": {"countries": ["7"]}})
    assert good["triggers"]["almost_position"] == 7 and good["sms"]["countries"] == ["7"]
    assert settings.enabled_channels(junk) == []


@pytest.mark.parametrize("value", [[], "994", ["+994", "abc"], ["0994"], [994], ["12345"]])
def test_sms_countries_are_calling_codes(value):
    with pytest.raises(InvalidInput) as refused:
        settings.validate({"sms": {"countries": value}})
    assert refused.value.details["field"] == "sms.countries"


def test_sms_countries_default_and_normalise():
    assert settings.effective({})["sms"]["countries"] == ["994"]
    stored = settings.validate({"sms": {"countries": ["+994", "7", "994"]}})
    assert stored["sms"]["countries"] == ["994", "7"]


@pytest.mark.parametrize(
    "change",
    [
        {"sms": {"url": "https://evil.example/collect"}},
        {"sms": {"headers": {"X-Key": "new"}}},
        {"email": {"host": "smtp.evil.example"}},
        {"email": {"port": 25}},
        {"email": {"username": "other"}},
        {"email": {"password": "new-pass"}},
        {"email": {"sender": "x@evil.example"}},
        {"telegram": {"base_url": "https://evil.example"}},
        {"telegram": {"token": "999:other"}},
    ],
)
def test_a_manager_may_not_change_a_gateway(client, api, db, change):
    assert client.put(URL, json={"sms": SMS, "email": EMAIL}, headers=api.admin).status_code == 200
    before = client.get(URL, headers=api.admin).get_json()["notifications"]
    (section,) = change
    (key,) = change[section]
    response = client.put(URL, json=change, headers=api.manager)
    error = assert_error(response, 403, "forbidden", field=f"{section}.{key}")
    assert "only an admin" in error["message"]
    assert client.get(URL, headers=api.admin).get_json()["notifications"] == before
    # an admin may
    assert client.put(URL, json=change, headers=api.admin).status_code == 200


def test_a_manager_may_switch_channels_and_triggers(client, api):
    assert client.put(URL, json={"sms": SMS}, headers=api.admin).status_code == 200
    view = client.get(URL, headers=api.manager).get_json()["notifications"]
    view["sms"]["enabled"] = False
    view["triggers"]["almost_position"] = 9
    put = client.put(URL, json=view, headers=api.manager)  # the whole view sent back
    assert put.status_code == 200, put.get_data(as_text=True)
    body = put.get_json()["notifications"]
    assert body["sms"]["enabled"] is False and body["triggers"]["almost_position"] == 9
    assert body["sms"]["url"] == SMS["url"]
