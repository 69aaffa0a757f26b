"""Passwords, bearer tokens, and who may do what.

* Passwords: scrypt via Werkzeug (salted, slow by design: ~100-140 ms of CPU). Under
  gevent (``novbe serve``) every hash runs in a small native thread pool, never on the
  event loop's thread: hashlib.scrypt releases the GIL, so kiosks, displays and counters
  keep being served while a login is checked (server/password_work.py).
* Tokens: 256 random bits; the database keeps only their SHA-256, so a leaked
  database does not leak working tokens. Staff tokens start with ``st_``,
  device tokens with ``dv_``.
* Token lookups are cached in the process (:class:`TokenCache`): a kiosk sends its token
  with every ticket. An entry lives at most ``TOKEN_CACHE_TTL_S`` (and never past the
  token's expiry); a committed change to a device, a staff account or an API token in
  this process empties the cache, so a revocation made here takes effect on the next
  request. A revocation made by another server process takes effect here within
  ``TOKEN_CACHE_TTL_S``.
* Roles: staff act at the counters of their own center assigned to them (a new account
  gets every counter the center has: server/staff_counters.py); managers also change
  their center's catalog; admins with no center act everywhere. ``reception`` (the
  volunteers' door screen, /reception) issues tickets on a visitor's behalf, checks
  bookings in and reads the catalog with its estimates; it never works at a counter
  (no call, serve, transfer, counter state), nor reads reports, history or the ledger.
  It is let in only where a view names it (``RECEPTION_ROLES``): every other check
  defaults to COUNTER_ROLES.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, object_session
from werkzeug.security import check_password_hash, generate_password_hash

from . import limits
from .errors import Forbidden, InvalidInput, Unauthorized
from .models import COUNTER_ROLES, ROLES, ApiToken, Center, CounterStaff, Device, StaffUser, utcnow
from .password_work import off_the_loop
from .queue.actor import Actor

# Who may change a center's catalog, counters, staff, devices and settings.
MANAGER_ROLES = ("manager", "admin")
# Who may issue a ticket on a visitor's behalf and check a booking in (and read the
# catalog the reception screen shows): the counter roles and the door's volunteers.
RECEPTION_ROLES = (*COUNTER_ROLES, "reception")

STAFF_TOKEN_PREFIX = "st_"
DEVICE_TOKEN_PREFIX = "dv_"
MIN_PASSWORD_LENGTH = 8


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the user does not exist, so timing does not reveal usernames.
    Made on first use, not at import: a server process starts ~0.1 s sooner."""
    return off_the_loop(generate_password_hash, "not-a-real-password")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    return off_the_loop(generate_password_hash, password, pool="store")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


# --- staff ------------------------------------------------------------------


def create_staff(
    session: Session, username: str, password: str, role: str, center_code: str | None
) -> StaffUser:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    if not username or len(username) > limits.MAX_CODE_LENGTH:
        raise InvalidInput(
            f"username must be 1 to {limits.MAX_CODE_LENGTH} characters", field="username"
        )
    if problem := limits.text_problem(username):
        raise InvalidInput(f"username {problem}", field="username")
    if session.scalar(select(StaffUser).where(StaffUser.username == username)):
        raise InvalidInput(f"username '{username}' is taken", field="username")
    center = None
    if center_code is not None:
        center = session.scalar(select(Center).where(Center.code == center_code))
        if center is None:
            raise InvalidInput(f"unknown center '{center_code}'", field="center")
    elif role != "admin":
        raise InvalidInput("staff and managers need a center", field="center")
    user = StaffUser(
        username=username,
        password_hash=hash_password(password),
        role=role,
        center_id=center.id if center else None,
    )
    if center is not None and role in COUNTER_ROLES:
        # Every counter it has now; the admin page narrows it. Reception works at none.
        user.counter_links = [CounterStaff(counter=c) for c in center.counters]
    session.add(user)
    session.flush()
    return user


@dataclass(frozen=True)
class LoginCandidate:
    """What checking a password needs, read so that no database session is held while
    the (slow) hash runs."""

    staff_id: int
    password_hash: str


def login_candidate(session: Session, username: str) -> LoginCandidate | None:
    """The active account named ``username``, or None."""
    row = session.execute(
        select(StaffUser.id, StaffUser.password_hash).where(
            StaffUser.username == username, StaffUser.active.is_(True)
        )
    ).first()
    return LoginCandidate(row.id, row.password_hash) if row else None


def password_matches(candidate: LoginCandidate | None, password: str) -> bool:
    """Check ``password`` off the event loop; an unknown or inactive account still costs
    one hash (of a dummy), so timing does not tell which usernames exist."""
    stored = candidate.password_hash if candidate else _dummy_hash()
    return off_the_loop(check_password_hash, stored, password) and candidate is not None


def check_login(session: Session, username: str, password: str) -> StaffUser:
    """The account, or 401 ``bad_credentials``. Holds ``session`` during the hash: the
    API's login routes use login_candidate and password_matches instead."""
    candidate = login_candidate(session, username)
    if not password_matches(candidate, password):
        raise Unauthorized("wrong username or password", code="bad_credentials")
    return session.get(StaffUser, candidate.staff_id)


def issue_staff_token(
    session: Session, user: StaffUser, hours: int, now: datetime | None = None
) -> tuple[str, datetime]:
    now = now or utcnow()
    token = new_token(STAFF_TOKEN_PREFIX)
    expires = now + timedelta(hours=hours)
    session.add(
        ApiToken(token_hash=hash_token(token), staff_id=user.id, created_at=now, expires_at=expires)
    )
    return token, expires


def staff_actor(user: StaffUser) -> Actor:
    return Actor("staff", user.id, user.center_id, user.role, user.username)


# --- devices ----------------------------------------------------------------


def rotate_device_token(session: Session, device: Device, now: datetime | None = None) -> str:
    """Give the device a new token (shown once); the previous one stops working."""
    token = new_token(DEVICE_TOKEN_PREFIX)
    device.token_hash = hash_token(token)
    device.token_rotated_at = now or utcnow()
    return token


def device_actor(device: Device) -> Actor:
    return Actor("device", device.id, device.center_id, device.kind, device.name)


# --- requests -----------------------------------------------------------------


TOKEN_CACHE_TTL_S = 5.0
TOKEN_CACHE_MAX = 10_000  # entries; beyond it the cache starts over (a flood of tokens)


class TokenCache:
    """Bearer token digest -> (Actor, monotonic deadline), for this process."""

    def __init__(self, ttl_s: float = TOKEN_CACHE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[Actor, float]] = {}

    def get(self, digest: str) -> Actor | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            self._entries.pop(digest, None)
            return None
        return entry[0]

    def put(self, digest: str, actor: Actor, valid_for_s: float | None = None) -> None:
        if len(self._entries) >= TOKEN_CACHE_MAX:
            self._entries.clear()
        life = self.ttl_s if valid_for_s is None else min(self.ttl_s, valid_for_s)
        if life > 0:
            self._entries[digest] = (actor, time.monotonic() + life)

    def clear(self) -> None:
        self._entries.clear()


token_cache = TokenCache()


def actor_for_token(session: Session, token: str, now: datetime | None = None) -> Actor:
    """Resolve a bearer token to who holds it, or raise 401."""
    digest = hash_token(token)
    actor = token_cache.get(digest)
    if actor is not None:
        return actor
    now = now or utcnow()
    if token.startswith(STAFF_TOKEN_PREFIX):
        row = session.execute(
            select(StaffUser.id, StaffUser.center_id, StaffUser.role, StaffUser.username)
            .join(ApiToken, ApiToken.staff_id == StaffUser.id)
            .where(
                ApiToken.token_hash == digest,
                ApiToken.expires_at > now,
                StaffUser.active.is_(True),
            )
            .add_columns(ApiToken.expires_at)
        ).first()
        if row is not None:
            actor = Actor("staff", row.id, row.center_id, row.role, row.username)
            left = (_aware(row.expires_at) - now).total_seconds()
            token_cache.put(digest, actor, left)
            return actor
    elif token.startswith(DEVICE_TOKEN_PREFIX):
        row = session.execute(
            select(Device.id, Device.center_id, Device.kind, Device.name).where(
                Device.token_hash == digest
            )
        ).first()
        if row is not None:
            actor = Actor("device", row.id, row.center_id, row.kind, row.name)
            token_cache.put(digest, actor)
            return actor
    raise Unauthorized("invalid or expired token", code="invalid_token")


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=utcnow().tzinfo)


# What an Actor is made of: a change to any of these may revoke or alter a cached one.
_ACTOR_FIELDS = {
    Device: ("token_hash", "center_id", "kind", "name"),
    StaffUser: ("active", "role", "center_id", "username", "password_hash"),
    ApiToken: ("token_hash", "staff_id", "expires_at"),
}


def _forget_tokens_after_commit(session: Session | None) -> None:
    """Empty the token cache now (so this transaction's readers cannot keep the old
    actor) and again once ``session`` commits (a request that read the old row meanwhile
    may have cached it)."""
    token_cache.clear()
    if session is not None:
        event.listen(session, "after_commit", lambda _s: token_cache.clear(), once=True)


def _on_update(_mapper, _connection, target) -> None:
    state = inspect(target)
    names = _ACTOR_FIELDS[type(target)]
    if any(state.attrs[name].history.has_changes() for name in names):
        _forget_tokens_after_commit(object_session(target))


def _on_delete(_mapper, _connection, target) -> None:
    _forget_tokens_after_commit(object_session(target))


for _model in _ACTOR_FIELDS:
    event.listen(_model, "after_update", _on_update)
    event.listen(_model, "after_delete", _on_delete)
# Bulk ``delete(ApiToken)`` (admin/staff.py revoking a user's tokens) bypasses these
# events: it calls :func:`tokens_revoked` itself.


def tokens_revoked(session: Session) -> None:
    """Tokens were revoked in ``session`` without the ORM's events (a bulk delete)."""
    _forget_tokens_after_commit(session)


def require_staff(actor: Actor | None, center_id: int, *, roles=COUNTER_ROLES) -> Actor:
    """Staff of ``center_id`` with one of ``roles`` (network admins always pass)."""
    if actor is None:
        raise Unauthorized("log in or send 'Authorization: Bearer <token>'")
    if actor.kind != "staff":
        raise Forbidden("this needs a staff account, not a device")
    if actor.role == "admin" and actor.center_id is None:
        return actor
    if actor.center_id != center_id:
        raise Forbidden("you are not staff of this center")
    if actor.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(roles)}")
    return actor


def require_member(
    actor: Actor | None,
    center_id: int,
    *,
    device_kinds=("kiosk", "display"),
    roles=COUNTER_ROLES,
):
    """A device of ``center_id`` of one of ``device_kinds``, or staff of that center with
    one of ``roles``."""
    if actor is None:
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    if actor.kind == "device":
        if actor.center_id != center_id:
            raise Forbidden("this device belongs to another center")
        if actor.role not in device_kinds:
            raise Forbidden(f"a {actor.role} device cannot do this")
        return actor
    return require_staff(actor, center_id, roles=roles)
