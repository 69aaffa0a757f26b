"""The fairness ledger (server/ledger/, docs/ledger.md).

* GET  /public/centers/{center_code}/ledger/{day}: anyone: the day's entries and seals
  as JSON lines, to check with ``novbe verify-ledger --file``;
* POST /centers/{center_code}/ledger/{day}/seal: a manager seals the day as it stands
  (the server also seals every day once the center has closed).
"""

from __future__ import annotations

from flask import Response, current_app, jsonify, stream_with_context

from ..auth import MANAGER_ROLES as MANAGERS
from ..auth import require_staff
from ..errors import Conflict
from ..extensions import db
from ..ledger import seal_log, signing_key
from ..ledger.proof import public_lines
from ..ledger.seal import SealRefused, seal_day, seal_json
from ..models import utcnow
from ..queue.lookup import get_center
from ..queue.numbering import business_day
from ..reports.dates import parse_day
from . import bp
from .access import caller
from .request import json_body, reject_unknown

# A day that is over changes only by a late event (a rating): cacheable for a while.
PAST_DAY_MAX_AGE_S = 300


@bp.get("/public/centers/<center_code>/ledger/<day>")
def public_ledger(center_code: str, day: str):
    wanted = parse_day(day, "day")
    with db.read() as s:
        center = get_center(s, center_code)  # 404 before the stream starts
        center_id, code, today = center.id, center.code, business_day(center, utcnow())

    lines = public_lines(db, center_id, code, wanted)
    response = Response(stream_with_context(lines), mimetype="application/x-ndjson")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="novbe-ledger-{code}-{wanted.isoformat()}.jsonl"'
    )
    response.headers["Cache-Control"] = (
        f"public, max-age={PAST_DAY_MAX_AGE_S}" if wanted < today else "no-cache"
    )
    return response


@bp.post("/centers/<center_code>/ledger/<day>/seal")
def seal_ledger_day(center_code: str, day: str):
    actor = caller(roles=MANAGERS)
    reject_unknown(json_body(), set())  # nothing to say but the day: no body, or {}
    wanted = parse_day(day, "day")
    key, log = signing_key(current_app), seal_log(current_app)
    with db.write() as s:
        center = get_center(s, center_code)
        require_staff(actor, center.id, roles=MANAGERS)
        try:
            seal = seal_day(s, center, wanted, key, log)
        except SealRefused as refused:
            raise Conflict(str(refused), code="ledger_tampered") from None
        if seal is None:
            raise Conflict(
                f"the ledger of center '{center.code}' holds no entry for {wanted.isoformat()}",
                code="ledger_empty",
            )
        body = seal_json(seal)
    log.append([body])
    return jsonify(body), 201
