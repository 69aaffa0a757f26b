"""Web screens' logins, kept on the server so that logging out really ends them.

The browser's signed session cookie carries ``sid``: 256 random bits. The database keeps
only its SHA-256 (``staff_sessions.token_hash``), so a leaked database opens no session.
A session is valid while its row exists, is not revoked and not expired, its account is
active, and the account's password is still the one it logged in with (the row's
``password_stamp``: any password change, through any path, ends it).

Cost: one indexed lookup joined with the account per request; ``last_seen_at`` is
written at most once a minute (see ``needs_seen``).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from .models import StaffSession, StaffUser, utcnow

LAST_SEEN_EVERY = timedelta(minutes=1)


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()


def password_stamp(user: StaffUser) -> str:
    """Changes whenever the password does; reveals nothing usable about it."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def open_session(
    session: Session, user: StaffUser, lifetime: timedelta, now: datetime | None = None
) -> str:
    """A new session for ``user``; returns its id (for the cookie, shown this once).
    Also drops the account's ended sessions, so the table holds live ones and few more."""
    now = now or utcnow()
    session.execute(
        delete(StaffSession).where(
            StaffSession.staff_id == user.id,
            or_(StaffSession.expires_at <= now, StaffSession.revoked_at.is_not(None)),
        )
    )
    sid = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=_digest(sid),
            staff_id=user.id,
            password_stamp=password_stamp(user),
            created_at=now,
            expires_at=now + lifetime,
            last_seen_at=now,
        )
    )
    return sid


def find_session(
    session: Session, sid: object, staff_id: object, now: datetime | None = None
) -> tuple[StaffSession, StaffUser] | None:
    """The live session with id ``sid`` of account ``staff_id`` (both from the cookie),
    and its account; None if it is unknown, revoked, expired or no longer valid."""
    if not isinstance(sid, str) or not isinstance(staff_id, int):
        return None
    now = now or utcnow()
    row = session.execute(
        select(StaffSession, StaffUser)
        .join(StaffUser, StaffSession.staff_id == StaffUser.id)
        .where(StaffSession.token_hash == _digest(sid))
    ).first()
    if row is None:
        return None
    live, user = row
    if (
        live.staff_id != staff_id
        or live.revoked_at is not None
        or live.expires_at <= now
        or not user.active
        or live.password_stamp != password_stamp(user)
    ):
        return None
    return live, user


def needs_seen(live: StaffSession, now: datetime | None = None) -> bool:
    return (now or utcnow()) - live.last_seen_at >= LAST_SEEN_EVERY


def mark_seen(session: Session, session_id: int, now: datetime | None = None) -> None:
    session.execute(
        update(StaffSession)
        .where(StaffSession.id == session_id)
        .values(last_seen_at=now or utcnow())
    )


def revoke_session(session: Session, sid: object, now: datetime | None = None) -> None:
    """End the session with id ``sid`` (logging out); an unknown one is no error."""
    if isinstance(sid, str):
        session.execute(
            update(StaffSession)
            .where(StaffSession.token_hash == _digest(sid), StaffSession.revoked_at.is_(None))
            .values(revoked_at=now or utcnow())
        )


def revoke_staff_sessions(session: Session, staff_id: int, now: datetime | None = None) -> None:
    """End every session of an account (password reset, deactivation)."""
    session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
