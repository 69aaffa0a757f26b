"""Failed-login limits, per username and per client address (Flask-Limiter).

* Only failures count (401 ``bad_credentials``), and the limits are checked before the
  password is: once a username or an address is locked, even the right password is
  refused (429) until the lock passes. Both login routes share the counts.
* Tiers make the delay grow (config ``LOGIN_LIMITS_PER_USERNAME``, default 5 a minute,
  20 an hour, 100 a day; ``LOGIN_LIMITS_PER_ADDRESS``, looser, so that one person does
  not lock out an office behind one NAT address). Windows move: a slot frees as the
  failure that took it grows older than the window.
* A refusal is 429 ``too_many_attempts`` with ``Retry-After``: when every exhausted
  tier has a free slot again (the limiter checks every tier, see
  ``RATELIMIT_FAIL_ON_FIRST_BREACH`` in server/config.py).
* The failure that fills a tier writes one audit entry ``login_locked`` (the account's
  center for a known username; no center for an unknown one or for an address). At most
  one per tier and key per window, however many requests are refused meanwhile.
* The counts live in Flask-Limiter's storage (``RATELIMIT_STORAGE_URI``): memory for one
  process, Redis when several processes must share them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Response, current_app, g, request
from flask_limiter import RequestLimit
from sqlalchemy import select

from ..connections.addresses import client_key
from ..extensions import db, limiter
from ..models import AuditEntry, StaffUser
from .errors import error_response

USERNAME_SCOPE = "login-username"
ADDRESS_SCOPE = "login-address"
LOCKED = "login_locked"  # the audit entry's action


def _username_key() -> str:
    """The username the request tries (hashed: any text makes a safe storage key)."""
    try:
        data = request.get_json(silent=True)
    except Exception:  # too large, too deep...: the view says so, and counts nothing
        data = None
    name = data.get("username") if isinstance(data, dict) else None
    if not isinstance(name, str):
        return "-"
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _address_key() -> str:
    """The client's address; an IPv6 client's whole /64 is one (it can pick any address
    in it: server/connections/addresses.py)."""
    return client_key(request.environ) or "-"


def _configured(key: str) -> Callable[[], str]:
    return lambda: current_app.config[key]


def _never(_response: Response) -> bool:
    # Failures are counted by count_failure, which can tell which one starts a lock.
    return False


def _refuse(_breached: RequestLimit) -> Response:
    """Flask-Limiter calls this for each breached tier, after checking them all: the
    answer (made once) names when the last of them frees a slot."""
    if "login_refusal" not in g:
        g.login_refusal = _refusal()
    return g.login_refusal


def _refusal() -> Response:
    breached = [rl for rl in limiter.current_limits if rl.breached]
    retry_after = max(1, max(rl.reset_at for rl in breached) - int(time.time()))
    scopes = {_scope(rl) for rl in breached}
    whose = " and ".join(
        text
        for scope, text in (
            (USERNAME_SCOPE, "for this username"),
            (ADDRESS_SCOPE, "from this address"),
        )
        if scope in scopes
    )
    response = error_response(
        429,
        "too_many_attempts",
        f"too many failed logins {whose or 'here'}; try again in {_duration(retry_after)}",
        {"retry_after": retry_after},
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def limited(view: Callable) -> Callable:
    """Put the login limits on a login view."""
    for scope, key_func, config_key in (
        (USERNAME_SCOPE, _username_key, "LOGIN_LIMITS_PER_USERNAME"),
        (ADDRESS_SCOPE, _address_key, "LOGIN_LIMITS_PER_ADDRESS"),
    ):
        view = limiter.shared_limit(
            _configured(config_key),
            scope=scope,
            key_func=key_func,
            deduct_when=_never,
            on_breach=_refuse,
        )(view)
    return view


def count_failure(username: str) -> None:
    """Count a failed login against every tier of this request's limits; the failure that
    fills a tier records the lock (once, even across processes sharing Redis)."""
    strategy, storage = limiter.limiter, limiter.storage
    locks: dict[str, list[tuple[RequestLimit, float]]] = {}
    for rl in limiter.current_limits:
        scope = _scope(rl)
        if scope not in (USERNAME_SCOPE, ADDRESS_SCOPE):
            continue
        if not strategy.hit(rl.limit, *rl.request_args):
            continue  # already full (a concurrent failure filled it)
        window = strategy.get_window_stats(rl.limit, *rl.request_args)
        if window.remaining > 0:
            continue
        if storage.incr(f"{rl.key}/locked", rl.limit.get_expiry()) == 1:
            locks.setdefault(scope, []).append((rl, window.reset_time))
    if locks:
        _record_locks(username, locks)


def _record_locks(username: str, locks: dict[str, list[tuple[RequestLimit, float]]]) -> None:
    address = request.remote_addr or "-"
    shown = _printable(username)
    now = datetime.now(UTC)
    with db.write() as s:
        account = None
        if shown == username:  # text the database can take (no NUL, no lone surrogate)
            account = s.scalar(select(StaffUser).where(StaffUser.username == username))
        for scope, tiers in locks.items():
            until = datetime.fromtimestamp(int(max(reset for _, reset in tiers)) + 1, UTC)
            limits = [str(rl.limit) for rl, _ in tiers]
            center_id = account.center_id if account and scope == USERNAME_SCOPE else None
            s.add(
                AuditEntry(
                    center_id=center_id,
                    at=now,
                    staff_id=None,
                    username=address[:64],  # who: the client, not logged in
                    entity_type="staff",
                    entity_id=shown,
                    action=LOCKED,
                    before=None,
                    after={
                        "locked": "username" if scope == USERNAME_SCOPE else "address",
                        "address": address,
                        "limits": limits,
                        "until": until.isoformat(),
                    },
                )
            )
            current_app.logger.warning(
                "login locked (%s) for username %r from %s until %s",
                ", ".join(limits),
                shown,
                address,
                until.isoformat(timespec="seconds"),
            )


def _scope(rl: RequestLimit) -> str:
    # Flask-Limiter's storage arguments end with the limit's scope.
    return rl.request_args[-1]


def _printable(text: str) -> str:
    """``text`` as the audit log can store it: escapes for NUL and lone surrogates."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text[:64]


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 2 * 3600:
        return f"{-(-seconds // 60)} minutes"
    return f"{-(-seconds // 3600)} hours"
