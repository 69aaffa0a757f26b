"""A call announcement as audio, for displays whose browser cannot speak.

The display asks for ``announcement.wav?number=A012&counter=5&language=ru`` and
plays it. The phrase is built here from the words of ``announce.call`` and the
checked number and counter label, never from text the caller sends, and rendered
once per phrase by hardware/voice.py (espeak-ng), then served from its cache.
"""

from __future__ import annotations

import os
import re

from flask import current_app, request
from sqlalchemy import select

from hardware import voice

from .. import limits
from ..auth import require_member
from ..errors import InvalidInput, NovbeError
from ..extensions import db
from ..i18n import LANGUAGES, catalog
from ..models import Counter
from ..queue.lookup import get_center
from . import bp
from .access import caller

# A ticket's display number: its service's prefix (1 to 3 capitals, see the importer)
# and its day number, at least three digits (A007; A1000 on a very busy day).
NUMBER_RE = re.compile(r"[A-Z]{1,3}[0-9]{3,6}")
MAX_LABEL = limits.MAX_LABEL_LENGTH
PARAMETERS = ("number", "counter", "language")
# The same call is the same sound: let the display's browser keep it for the day
# (private: it was fetched with a token, so no shared cache may keep it).
CACHE_CONTROL = "private, max-age=86400"


class VoiceUnavailable(NovbeError):
    """The server cannot render speech now (espeak-ng missing, failing or hung)."""

    status = 503
    code = "voice_unavailable"


@bp.get("/centers/<center_code>/announcement.wav")
def announcement_audio(center_code: str):
    actor = caller(device_kinds=("display",))
    with db.read() as s:
        center = get_center(s, center_code)
        require_member(actor, center.id, device_kinds=("display",))
        number, counter, language = _query()
        labels = s.scalars(
            select(Counter.label).where(Counter.center_id == center.id, Counter.label == counter)
        ).all()
    if not labels:
        raise InvalidInput(
            f"'counter' must be the label of one of center '{center_code}''s counters",
            field="counter",
        )
    text = voice.announcement_text(catalog()[language]["announce.call"], number, counter)
    try:
        audio = _cache().audio(text, language)
    except voice.VoiceError as err:
        current_app.logger.error("server-side voice: %s", err)
        raise VoiceUnavailable(str(err)) from None
    response = current_app.response_class(audio.data, mimetype="audio/wav")
    response.set_etag(audio.key)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response.make_conditional(request)


def _query() -> tuple[str, str, str]:
    """The three parameters, each given once, in their strict forms; anything else is
    refused naming the parameter, so no other text can reach the speech engine."""
    unknown = sorted(set(request.args) - set(PARAMETERS))
    if unknown:
        raise InvalidInput(
            f"unknown parameter(s): {', '.join(unknown)}; allowed: {', '.join(PARAMETERS)}",
            field=unknown[0],
        )
    values = {}
    for name in PARAMETERS:
        given = request.args.getlist(name)
        if not given or not given[0]:
            raise InvalidInput(f"'{name}' is required", field=name)
        if len(given) > 1:
            raise InvalidInput(f"'{name}' must be given once", field=name)
        values[name] = given[0]
    if not NUMBER_RE.fullmatch(values["number"]):
        raise InvalidInput(
            "'number' must be a ticket number: 1 to 3 capital letters and 3 to 6 digits, e.g. A012",
            field="number",
        )
    if len(values["counter"]) > MAX_LABEL:
        raise InvalidInput(f"'counter' is longer than {MAX_LABEL} characters", field="counter")
    if values["language"] not in LANGUAGES:
        raise InvalidInput(f"'language' must be one of {', '.join(LANGUAGES)}", field="language")
    return values["number"], values["counter"], values["language"]


def _cache() -> voice.VoiceCache:
    config = current_app.config
    folder = config.get("VOICE_DIR") or os.path.join(current_app.instance_path, "voice")
    return voice.VoiceCache(
        folder,
        max_bytes=int(config.get("VOICE_CACHE_MB", 64)) * 1024 * 1024,
        command=config.get("VOICE_COMMAND") or "espeak-ng",
    )
