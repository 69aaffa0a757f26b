"""Speech rendered by the server (espeak-ng): a call announcement for displays whose
browser cannot speak, and the kiosk's accessibility mode, read aloud.

The display asks for ``announcement.wav?number=A012&counter=5&language=ru`` and
plays it. The phrase is built here from the words of ``announce.call`` and the
checked number and counter label, never from text the caller sends, and rendered
once per phrase by hardware/voice.py (espeak-ng), then served from its cache.

The kiosk asks for ``kiosk-speech.wav?language=ru&say=k:kiosk.choose_service&say=...``:
each ``say`` names one piece, a key of the kiosk's words (``k:``), one of the center's
categories or services (``category:``, ``service:``), or a ticket number (``number:``,
spoken digit by digit). Nothing else can be said, so the endpoint cannot be made to
speak free text. The phrase goes back in the header X-Spoken-Text (percent-encoded
UTF-8), so the kiosk can show and log what it asked to be said.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

from flask import current_app, request
from sqlalchemy import select

from hardware import voice

from .. import limits
from ..auth import require_member
from ..errors import InvalidInput, NovbeError
from ..extensions import db
from ..i18n import LANGUAGES, catalog
from ..models import Counter, Service, ServiceCategory
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
    return _spoken(text, language)


def _spoken(text: str, language: str, headers: dict[str, str] | None = None):
    """``text`` as WAV audio, rendered once by espeak-ng and then from the cache."""
    try:
        audio = _cache().audio(text, language)
    except voice.VoiceError as err:
        current_app.logger.error("server-side voice: %s", err)
        raise VoiceUnavailable(str(err)) from None
    response = current_app.response_class(audio.data, mimetype="audio/wav")
    response.set_etag(audio.key)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers.update(headers or {})
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


# ---- the kiosk's accessibility mode ------------------------------------------------------

KIOSK_WORDS = Path(__file__).resolve().parents[2] / "kiosk" / "translations"
MAX_PARTS = 8
PIECE_RE = re.compile(r"(k|category|service|number):([A-Za-z0-9_.-]{1,64})")


@bp.get("/centers/<center_code>/kiosk-speech.wav")
def kiosk_speech(center_code: str):
    actor = caller(device_kinds=("kiosk",))
    language, pieces = _speech_query()
    words = catalog(KIOSK_WORDS)[language]
    with db.read() as s:
        center = get_center(s, center_code)
        require_member(actor, center.id, device_kinds=("kiosk",))
        phrases = [_piece_text(s, center.id, words, kind, value) for kind, value in pieces]
    text = " ".join(_sentence(phrase) for phrase in phrases)
    return _spoken(text, language, {"X-Spoken-Text": quote(text, safe=" ,.:;!?")})


def _speech_query() -> tuple[str, list[tuple[str, str]]]:
    unknown = sorted(set(request.args) - {"language", "say"})
    if unknown:
        raise InvalidInput(
            f"unknown parameter(s): {', '.join(unknown)}; allowed: language, say",
            field=unknown[0],
        )
    languages = request.args.getlist("language")
    if len(languages) != 1 or languages[0] not in LANGUAGES:
        raise InvalidInput(
            f"'language' must be given once, one of {', '.join(LANGUAGES)}", field="language"
        )
    says = request.args.getlist("say")
    if not 1 <= len(says) <= MAX_PARTS:
        raise InvalidInput(f"'say' must be given 1 to {MAX_PARTS} times", field="say")
    pieces = []
    for say in says:
        match = PIECE_RE.fullmatch(say)
        if not match:
            raise InvalidInput(
                "'say' must be k:<kiosk word key>, category:<code>, service:<code>"
                " or number:<ticket number>",
                field="say",
            )
        pieces.append((match.group(1), match.group(2)))
    return languages[0], pieces


def _piece_text(s, center_id: int, words: dict, kind: str, value: str) -> str:
    if kind == "k":
        text = words.get(value)
        # Only whole sentences: a plural entry or one with a {blank} needs a value.
        if not isinstance(text, str) or "{" in text:
            raise InvalidInput(f"'{value}' is not a word the kiosk can say", field="say")
        return text
    if kind == "number":
        if not NUMBER_RE.fullmatch(value):
            raise InvalidInput("'number:' must be a ticket number, e.g. A012", field="say")
        return voice.spoken_number(value)
    model = Service if kind == "service" else ServiceCategory
    names = s.scalar(select(model.name).where(model.center_id == center_id, model.code == value))
    if names is None:
        raise InvalidInput(f"no {kind} '{value}' at this center", field="say")
    language = request.args["language"]
    return names.get(language) or names.get("az") or next(iter(names.values()), "")


def _sentence(phrase: str) -> str:
    """A phrase ending in a stop, so espeak-ng pauses between the pieces."""
    phrase = phrase.strip()
    return phrase if phrase[-1:] in ".!?:" else phrase + "."
