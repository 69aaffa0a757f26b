"""A center's notification settings (managers of the center and admins): which
channels reach visitors, their gateways and credentials, and which messages are sent.
The rules are server/notify/settings.py's; secrets are masked both ways."""

from __future__ import annotations

from flask import current_app, jsonify

from ..admin import require_admin
from ..auth import MANAGER_ROLES
from ..extensions import db
from ..models import Center
from ..notify import settings, vapid
from ..queue.lookup import get_center
from . import bp
from .access import caller
from .request import json_body


def _answer(center: Center) -> dict:
    return {
        "notifications": settings.public_view(center),
        "usable_channels": settings.enabled_channels(center, current_app),
        "vapid_public_key": vapid.public_key_b64url(current_app),
    }


@bp.get("/centers/<center_code>/notifications")
def get_notification_settings(center_code: str):
    actor = caller(roles=MANAGER_ROLES)
    with db.read() as s:
        center = get_center(s, center_code)
        require_admin(actor, center)
        body = _answer(center)
    return jsonify(body)


@bp.put("/centers/<center_code>/notifications")
def update_notification_settings(center_code: str):
    """Sections and keys left out keep their values; a masked secret sent back keeps
    the stored one. Audited (masked)."""
    data = json_body()
    actor = caller(roles=MANAGER_ROLES)
    with db.write() as s:
        center = get_center(s, center_code)
        require_admin(actor, center)
        settings.update(s, actor, center, data)
        body = _answer(center)
    return jsonify(body)
