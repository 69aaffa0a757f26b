"""Request-rate limits on the public booking routes and failed check-ins (Flask-Limiter).

* Public routes (no credentials) are limited per client: ``client_key`` (the address, an
  IPv6 client's whole /64, after ProxyFix), so one caller cannot book every slot or fill
  the line with absent remote tickets. Writes (book, cancel, join from home) share one
  budget, ``PUBLIC_BOOKING_WRITE_LIMITS``; the reads a booking page makes (booking,
  booking-days, slots) another, ``PUBLIC_BOOKING_READ_LIMITS``. Every request counts.
* Failed check-ins (an unknown code, or another center's) count per actor (the kiosk
  device or the staff user), like failed logins (login_limits.py), so that a kiosk's
  token cannot guess codes: ``CHECKIN_FAILURE_LIMITS``. Successes do not count; once a
  tier is full even a right code is refused until the window frees a slot. A failure
  is counted once known, after the lookup: so that a burst of requests at once cannot
  all pass the test before any is counted, every check-in also counts in
  ``CHECKIN_BURST_LIMITS`` (3 a second per actor, tested and counted in one step),
  which no kiosk or door reaches and which bounds a burst's overshoot to 2.
* A refusal is 429 with ``Retry-After`` (seconds until every exhausted tier has a free
  slot): ``too_many_requests`` for the public routes, ``too_many_attempts`` for check-in.
* The counts live in Flask-Limiter's storage (memory, or Redis shared by processes).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Response, abort, current_app, g, request
from flask_limiter import RequestLimit
from limits import parse_many

from ..connections.addresses import client_key
from ..errors import NovbeError
from ..extensions import limiter
from ..queue.actor import Actor
from .errors import error_response
from .login_limits import _duration

WRITE_SCOPE = "public-booking-write"
READ_SCOPE = "public-booking-read"
CHECKIN_SCOPE = "checkin-failures"
CHECKIN_BURST_SCOPE = "checkin-burst"
# The check-in refusals a guess gets (the others need a real code).
CHECKIN_FAILURES = frozenset({"appointment_not_found", "ticket_not_found", "wrong_center"})


def _client() -> str:
    return client_key(request.environ) or "-"


def _configured(key: str) -> Callable[[], str]:
    return lambda: current_app.config[key]


def _refuse(_breached: RequestLimit) -> Response:
    """Called for each breached tier after all are checked: one answer, made once."""
    if "public_refusal" not in g:
        breached = [rl for rl in limiter.current_limits if rl.breached]
        retry_after = max(1, max(rl.reset_at for rl in breached) - int(time.time()))
        g.public_refusal = _too_many(
            "too_many_requests",
            f"too many requests from this address; try again in {_duration(retry_after)}",
            retry_after,
        )
    return g.public_refusal


def _too_many(code: str, message: str, retry_after: int) -> Response:
    response = error_response(429, code, message, {"retry_after": retry_after})
    response.headers["Retry-After"] = str(retry_after)
    return response


def _limited(scope: str, config_key: str) -> Callable[[Callable], Callable]:
    return limiter.shared_limit(
        _configured(config_key), scope=scope, key_func=_client, on_breach=_refuse
    )


def write_limited(view: Callable) -> Callable:
    """Limit a public write (booking, cancelling, joining from home) per client."""
    return _limited(WRITE_SCOPE, "PUBLIC_BOOKING_WRITE_LIMITS")(view)


def read_limited(view: Callable) -> Callable:
    """Limit a public read of the booking page per client."""
    return _limited(READ_SCOPE, "PUBLIC_BOOKING_READ_LIMITS")(view)


# ---- failed check-ins: counted by hand, as only failures count ----


def _checkin_key(actor: Actor, scope: str) -> tuple[str, ...]:
    # Flask-Limiter's own keys start with the installation's prefix (RATELIMIT_KEY_PREFIX):
    # so do these, so that installations sharing a Redis keep their counts apart.
    prefix = (limiter._key_prefix,) if limiter._key_prefix else ()
    return (*prefix, scope, f"{actor.kind}:{actor.id}")


def _checkin_tiers(actor: Actor) -> list[tuple]:
    """(limit, storage arguments) per tier for this actor."""
    key = _checkin_key(actor, CHECKIN_SCOPE)
    return [(limit, key) for limit in parse_many(current_app.config["CHECKIN_FAILURE_LIMITS"])]


def check_checkin_allowed(actor: Actor) -> None:
    """Refuse (429 too_many_attempts, raised) while a tier of this actor's failures is full."""
    if not limiter.enabled:
        return
    strategy = limiter.limiter
    burst = _checkin_key(actor, CHECKIN_BURST_SCOPE)
    for limit in parse_many(current_app.config["CHECKIN_BURST_LIMITS"]):
        if not strategy.hit(limit, *burst):
            abort(_too_many("too_many_attempts", "too many check-ins at once; try again", 1))
    resets = [
        strategy.get_window_stats(limit, *args).reset_time
        for limit, args in _checkin_tiers(actor)
        if not strategy.test(limit, *args)
    ]
    if resets:
        retry_after = max(1, int(max(resets)) - int(time.time()) + 1)
        abort(
            _too_many(
                "too_many_attempts",
                "too many unknown codes from this kiosk or account; "
                f"try again in {_duration(retry_after)}",
                retry_after,
            )
        )


def count_checkin_failure(actor: Actor, error: NovbeError) -> None:
    """Count a refused check-in when it is one a guess gets."""
    if not limiter.enabled or error.code not in CHECKIN_FAILURES:
        return
    for limit, args in _checkin_tiers(actor):
        limiter.limiter.hit(limit, *args)
