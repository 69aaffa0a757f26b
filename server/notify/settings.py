"""A center's notification settings (``Center.notifications``): defaults, validation,
what staff may see, and what a channel gets to send with.

Invariants:

* the stored dict holds only what :func:`validate` returned: known sections and keys,
  checked types; anything missing falls back to :data:`DEFAULTS` (:func:`effective`);
* secrets (the SMS gateway's header values, the SMTP password, the bot token) never
  leave the server whole: :func:`public_view` masks them ("••••" + the last 2
  characters), and a PUT that sends a masked value back keeps the stored secret;
* a visitor channel is offered only when it is enabled *and* configured
  (:func:`enabled_channels`); Web Push also needs the installation's VAPID key;
* :func:`effective` never raises: what an older version (or a hand edit) stored that
  :func:`validate` would refuse is replaced by its default, unknown keys are ignored;
* the gateways (where messages go, with which credentials) are an admin's: a manager
  changes the ``enabled`` flags and the triggers only (:func:`update`,
  :data:`MANAGER_FIELDS`); SMS goes only to the calling codes of ``sms.countries``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, has_app_context

from ..errors import Forbidden, InvalidInput

MASK = "••••"

DEFAULTS: dict[str, dict[str, Any]] = {
    "sms": {
        "enabled": False,
        "url": "",
        "headers": {},
        "body": '{"to": "{to}", "text": "{text}"}',
        "content_type": "application/json",
        "countries": ["994"],  # calling codes SMS may go to (abuse: no premium numbers)
    },
    "email": {
        "enabled": False,
        "host": "",
        "port": 587,
        "security": "starttls",
        "username": "",
        "password": "",
        "sender": "",
    },
    "telegram": {
        "enabled": False,
        "base_url": "https://api.telegram.org",
        "token": "",
        "bot_username": "",
    },
    "webpush": {"enabled": False},
    "triggers": {
        "issued": True,
        "almost": True,
        "almost_position": 3,
        "almost_minutes": 10,
        "called": True,
        "reminders": True,
        "rating": True,
    },
}

VISITOR_CHANNELS = ("sms", "email", "telegram", "webpush")
CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded")
SECURITIES = ("none", "starttls", "ssl")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
_BOT_USERNAME = re.compile(r"^[A-Za-z0-9_]{3,64}$")
_SENDER = re.compile(r"^(?:[^<>@\r\n]*<[^<>@\s]+@[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+)$")


# --- reading -----------------------------------------------------------------------------------


def _stored(center: Any) -> Mapping[str, Any]:
    """The stored dict of a Center (or the dict itself)."""
    raw = center.notifications if hasattr(center, "notifications") else center
    return raw if isinstance(raw, Mapping) else {}


def effective(center: Any) -> dict[str, dict[str, Any]]:
    """Every section and key, the stored value where there is one and it is valid, else
    the default. Never raises (the producers run it inside every ticket transaction)."""
    stored = _stored(center)
    result = copy.deepcopy(DEFAULTS)
    for section, defaults in result.items():
        values = stored.get(section)
        if isinstance(values, Mapping):
            for key, default in defaults.items():
                if key in values:
                    defaults[key] = _tolerated(section, key, values[key], default)
    return result


def _tolerated(section: str, key: str, value: Any, default: Any) -> Any:
    """A stored value as :func:`validate` would keep it, or ``default`` if it would not."""
    try:
        checked = _check(section, key, copy.deepcopy(value), copy.deepcopy(default))
    except Exception:  # junk of any shape: never let it reach a producer
        return copy.deepcopy(default)
    return checked


def mask(secret: str) -> str:
    """What staff see of a secret: "••••" and its last 2 characters ("" stays "")."""
    return f"{MASK}{secret[-2:]}" if secret else ""


def public_view(center: Any) -> dict[str, dict[str, Any]]:
    """The effective settings with every secret masked: for the API and the admin page."""
    view = effective(center)
    view["sms"]["headers"] = {name: mask(v) for name, v in view["sms"]["headers"].items()}
    view["email"]["password"] = mask(view["email"]["password"])
    view["telegram"]["token"] = mask(view["telegram"]["token"])
    return view


def configured(settings: Mapping[str, Any], channel: str, app: Flask | None = None) -> bool:
    """Whether ``channel`` has what it needs to send (not whether it is enabled)."""
    values = settings[channel]
    if channel == "sms":
        return bool(values["url"])
    if channel == "email":
        return bool(values["host"] and values["sender"])
    if channel == "telegram":
        return bool(values["token"] and values["bot_username"])
    if channel == "webpush":
        from . import vapid

        app = app or (current_app if has_app_context() else None)
        return app is not None and vapid.available(app)
    return False


def enabled_channels(center: Any, app: Flask | None = None) -> list[str]:
    """The visitor channels usable now at ``center``: enabled and configured."""
    settings = effective(center)
    return [
        channel
        for channel in VISITOR_CHANNELS
        if settings[channel]["enabled"] and configured(settings, channel, app)
    ]


def triggers(center: Any) -> dict[str, Any]:
    """Which messages the center sends (and the "almost your turn" thresholds)."""
    return effective(center)["triggers"]


def delivery_settings(app: Flask, center: Any, channel: str) -> dict[str, Any] | None:
    """What ``channel`` needs to send for ``center`` (``Delivery.settings``), or None when
    the channel is off or not configured there (the message cannot be sent)."""
    settings = effective(center)
    if channel not in VISITOR_CHANNELS:
        return None
    if not (settings[channel]["enabled"] and configured(settings, channel, app)):
        return None
    values = dict(settings[channel])
    if channel == "webpush":
        from . import vapid

        values["vapid_key_pem"] = vapid.private_key_pem(app)
        values["vapid_subject"] = app.config.get("VAPID_SUBJECT") or "mailto:admin@localhost"
    return values


# --- validating --------------------------------------------------------------------------------


def validate(payload: Any, current: Any = None) -> dict[str, dict[str, Any]]:
    """The settings to store from ``payload`` (all or some sections, all or some keys),
    over ``current`` (a Center or its stored dict; its values fill what the payload
    leaves out). A masked secret sent back keeps the stored one. Raises InvalidInput
    naming the first bad field ("sms.url must be an http(s) URL")."""
    if not isinstance(payload, Mapping):
        raise InvalidInput("the notification settings must be an object", field="notifications")
    unknown = sorted(set(payload) - set(DEFAULTS))
    if unknown:
        raise InvalidInput(f"{unknown[0]} is not a notification setting", field=unknown[0])
    old = effective(current if current is not None else {})
    result = copy.deepcopy(old)
    for section, values in payload.items():
        if not isinstance(values, Mapping):
            raise InvalidInput(f"{section} must be an object", field=section)
        extra = sorted(set(values) - set(DEFAULTS[section]))
        if extra:
            field = f"{section}.{extra[0]}"
            raise InvalidInput(f"{field} is not a notification setting", field=field)
        for key, value in values.items():
            result[section][key] = _check(section, key, value, old[section][key])
    for channel in VISITOR_CHANNELS:
        if channel != "webpush" and result[channel]["enabled"]:
            _require_configured(channel, result[channel])
    return result


def _require_configured(channel: str, values: Mapping[str, Any]) -> None:
    needed = {"sms": ("url",), "email": ("host", "sender"), "telegram": ("token", "bot_username")}
    for key in needed[channel]:
        if not values[key]:
            field = f"{channel}.{key}"
            raise InvalidInput(f"{field} is needed when {channel} is enabled", field=field)


def _fail(field: str, rule: str) -> InvalidInput:
    return InvalidInput(f"{field} {rule}", field=field)


def _keep_secret(field: str, value: Any, stored: str) -> str:
    if not isinstance(value, str):
        raise _fail(field, "must be a string")
    if value.startswith(MASK):
        if value == mask(stored):
            return stored
        raise _fail(field, "is masked: send the stored value's mask back or a new value")
    if len(value) > 1000 or any(c in value for c in "\r\n"):
        raise _fail(field, "must be one line of at most 1000 characters")
    return value


def _string(field: str, value: Any, max_length: int, pattern: re.Pattern | None = None) -> str:
    if not isinstance(value, str) or len(value) > max_length:
        raise _fail(field, f"must be a string of at most {max_length} characters")
    value = value.strip()
    if value and pattern is not None and not pattern.match(value):
        raise _fail(field, "is not well formed")
    return value


def _url(field: str, value: Any) -> str:
    value = _string(field, value, 2048)
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _fail(field, "must be an http(s) URL")
    return value.rstrip("/") if field == "telegram.base_url" else value


def _countries(field: str, value: Any) -> list[str]:
    rule = 'must be a list of 1 to 50 calling codes such as ["994"]'
    if not isinstance(value, list) or not 1 <= len(value) <= 50:
        raise _fail(field, rule)
    codes: list[str] = []
    for code in value:
        text = code.lstrip("+") if isinstance(code, str) else ""
        if not re.fullmatch(r"[1-9][0-9]{0,3}", text):
            raise _fail(field, rule)
        if text not in codes:
            codes.append(text)
    return codes


def _check(section: str, key: str, value: Any, stored: Any) -> Any:
    field = f"{section}.{key}"
    if key == "enabled":
        if not isinstance(value, bool):
            raise _fail(field, "must be true or false")
        return value
    if section == "triggers":
        if key in ("almost_position", "almost_minutes"):
            top = 50 if key == "almost_position" else 240
            low = 1 if key == "almost_position" else 0
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
                raise _fail(field, f"must be a whole number from {low} to {top}")
            return value
        if not isinstance(value, bool):
            raise _fail(field, "must be true or false")
        return value
    if section == "sms":
        if key == "countries":
            return _countries(field, value)
        if key == "url":
            return _url(field, value)
        if key == "content_type":
            if value not in CONTENT_TYPES:
                raise _fail(field, f"must be one of {', '.join(CONTENT_TYPES)}")
            return value
        if key == "body":
            value = _string(field, value, 2000)
            if "{to}" not in value or "{text}" not in value:
                raise _fail(field, "must contain {to} and {text}")
            return value
        if key == "headers":
            if not isinstance(value, Mapping) or len(value) > 10:
                raise _fail(field, "must be an object of at most 10 headers")
            headers = {}
            for name, header in value.items():
                if not isinstance(name, str) or not _HEADER_NAME.match(name):
                    raise _fail(f"{field}.{name}", "is not a valid header name")
                headers[name] = _keep_secret(f"{field}.{name}", header, stored.get(name, ""))
            return headers
    if section == "email":
        if key == "port":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
                raise _fail(field, "must be a port number from 1 to 65535")
            return value
        if key == "security":
            if value not in SECURITIES:
                raise _fail(field, f"must be one of {', '.join(SECURITIES)}")
            return value
        if key == "password":
            return _keep_secret(field, value, stored)
        if key == "host":
            return _string(field, value, 255, re.compile(r"^[A-Za-z0-9.:\[\]-]+$"))
        if key == "username":
            return _string(field, value, 255)
        if key == "sender":
            return _string(field, value, 255, _SENDER)
    if section == "telegram":
        if key == "base_url":
            return _url(field, value) or DEFAULTS["telegram"]["base_url"]
        if key == "token":
            return _keep_secret(field, value, stored)
        if key == "bot_username":
            if isinstance(value, str):
                value = value.strip().lstrip("@")
            return _string(field, value, 64, _BOT_USERNAME)
    raise _fail(field, "is not a notification setting")  # unreachable: keys were checked


# --- changing ----------------------------------------------------------------------------------


def _audit_view(values: Mapping[str, Any], secrets_changed: set[str]) -> dict[str, Any]:
    """The settings flattened to "section.key" for the audit log, secrets masked (a new
    secret is marked as such, so a change of one shows even when its mask does not)."""
    view = public_view(values)
    flat: dict[str, Any] = {}
    for section, keys in view.items():
        for key, value in keys.items():
            flat[f"notifications.{section}.{key}"] = value
    for field in secrets_changed:
        flat[field] = f"{flat.get(field) or ''} (new)"
    return flat


def _secrets(values: Mapping[str, Any]) -> dict[str, str]:
    found = {
        "notifications.email.password": values["email"]["password"],
        "notifications.telegram.token": values["telegram"]["token"],
    }
    for name, value in values["sms"]["headers"].items():
        found[f"notifications.sms.headers.{name}"] = value
    return found


def may_change(role: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
    """Raise Forbidden naming the first field a ``role`` other than admin changed beyond
    the ``enabled`` flags and the triggers: a manager could otherwise send visitors'
    numbers (and the gateway's answers) to a host of their choosing."""
    if role == "admin":
        return
    for section, keys in after.items():
        if section == "triggers":
            continue
        for key, value in keys.items():
            if key != "enabled" and value != before[section][key]:
                field = f"{section}.{key}"
                raise Forbidden(
                    f"only an admin may change {field}: managers change the enabled "
                    "flags and the triggers",
                    code="forbidden",
                    field=field,
                )


def update(session: Any, actor: Any, center: Any, payload: Any, now: Any = None) -> bool:
    """Validate ``payload`` over the center's settings, check that ``actor`` may make
    the change (:func:`may_change`), store the result and audit what changed (secrets
    masked); False (and no audit entry) when nothing did."""
    from ..admin.audit import record_update

    before = effective(center)
    after = validate(payload, center)
    if getattr(actor, "kind", None) != "system":  # the center file's importer may
        may_change(getattr(actor, "role", None) or "", before, after)
    old_secrets, new_secrets = _secrets(before), _secrets(after)
    changed = {f for f, v in new_secrets.items() if old_secrets.get(f) not in (None, v)}
    # headers shown flattened inside sms.headers: mark the section instead
    marks = {
        f if not f.startswith("notifications.sms.headers.") else "notifications.sms.headers"
        for f in changed
    }
    center.notifications = after
    return (
        record_update(
            session,
            actor,
            center.id,
            "center",
            center.code,
            _audit_view(before, set()),
            _audit_view(after, marks),
            now,
        )
        is not None
    )
