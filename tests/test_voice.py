"""Server-side voice: call announcements rendered by espeak-ng, cached per
phrase, and served to displays whose browser cannot speak.

These tests run the real espeak-ng (Debian's package; ``make voice`` installs it)."""

from __future__ import annotations

import io
import os
import shutil
import wave
from array import array

import pytest

from hardware import voice
from server.i18n import catalog

from . import factories
from .api_helpers import PREFIX, SPEC, assert_error, bearer, setup_api
from .test_openapi import check

URL = f"{PREFIX}/centers/baku-1/announcement.wav"
DOC_PATH = "/centers/{center_code}/announcement.wav"
# What each language says for A012 at counter 2: the common words'
# "announce.call", the number spoken as display_sound.js speaks it.
PHRASES = {
    "az": "Bilet A, 0 1 2, masa 2",
    "ru": "Талон A, 0 1 2, окно 2",
    "en": "Ticket A, 0 1 2, counter 2",
}


@pytest.fixture(autouse=True)
def espeak_installed():
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: run `make voice` (apt-get install espeak-ng)")


@pytest.fixture
def voice_dir(app, tmp_path):
    folder = tmp_path / "voice"
    app.config["VOICE_DIR"] = str(folder)
    return folder


@pytest.fixture
def api(db, center, voice_dir):
    return setup_api(db, center)


def get(client, headers=None, **params):
    query = {"number": "A012", "counter": "2", "language": "en", **params}
    query = {name: value for name, value in query.items() if value is not None}
    return client.get(URL, query_string=query, headers=headers or {})


def wav_facts(data: bytes) -> tuple[int, int, float, int]:
    """(channels, sample width, duration in s, loudest sample) of a whole WAV file."""
    with wave.open(io.BytesIO(data)) as wav:
        frames = wav.readframes(wav.getnframes())
        duration = wav.getnframes() / wav.getframerate()
        channels, width = wav.getnchannels(), wav.getsampwidth()
    samples = array("h", frames)
    return channels, width, duration, max(abs(s) for s in samples)


# --- the phrase ------------------------------------------------------------------------


def test_the_number_is_spoken_as_the_display_speaks_it():
    assert voice.spoken_number("A012") == "A, 0 1 2"
    assert voice.spoken_number("AB1000") == "A B, 1 0 0 0"
    assert voice.spoken_number("C7") == "C, 7"
    for language, phrase in PHRASES.items():
        words = catalog()[language]["announce.call"]
        assert voice.announcement_text(words, "A012", "2") == phrase


# --- the endpoint ----------------------------------------------------------------------


@pytest.mark.parametrize("language", ["az", "ru", "en"])
def test_a_display_gets_the_announcement_as_a_wav_in_each_language(
    client, api, voice_dir, language
):
    response = get(client, api.display, language=language)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "audio/wav"
    assert response.headers["Cache-Control"] == "private, max-age=86400"
    for header in SPEC["paths"][DOC_PATH]["get"]["responses"]["200"]["headers"]:
        assert header in response.headers
    channels, width, duration, loudest = wav_facts(response.get_data())
    assert (channels, width) == (1, 2)
    assert duration > 1.0  # a whole sentence, not a click
    assert loudest > 1000  # sound, not silence
    # The cache file is named by the phrase: proof of what was said, and in which voice.
    cached = voice.VoiceCache(voice_dir).path(PHRASES[language], language)
    assert cached.read_bytes() == response.get_data()
    assert response.headers["ETag"] == f'"{cached.stem}"'


def test_the_same_phrase_is_rendered_once_and_then_served_from_the_cache(client, api, voice_dir):
    first = get(client, api.display, language="ru")
    assert first.status_code == 200
    cached = voice.VoiceCache(voice_dir).path(PHRASES["ru"], "ru")
    rendered_at = cached.stat().st_mtime_ns
    renders = voice.renders

    again = get(client, api.staff, language="ru")  # another caller, the same phrase
    assert again.status_code == 200
    assert again.get_data() == first.get_data()
    assert voice.renders == renders  # espeak-ng did not run
    assert cached.stat().st_mtime_ns == rendered_at  # the file was not written again

    # The browser's copy is still good: 304, nothing rendered.
    unchanged = get(client, {**api.display, "If-None-Match": first.headers["ETag"]}, language="ru")
    assert unchanged.status_code == 304
    assert unchanged.get_data() == b""
    assert voice.renders == renders

    # Another counter is another phrase: rendered once more, into its own file.
    other = get(client, api.display, language="ru", counter="3")
    assert other.status_code == 200
    assert voice.renders == renders + 1
    assert voice.VoiceCache(voice_dir).path("Талон A, 0 1 2, окно 3", "ru").exists()
    assert len(list(voice_dir.glob("*.wav"))) == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"number": None}, "number"),
        ({"number": ""}, "number"),
        ({"number": "a012"}, "number"),
        ({"number": "A12"}, "number"),
        ({"number": "ABCD012"}, "number"),
        ({"number": "A012 counter 9"}, "number"),
        ({"number": "Əli"}, "number"),
        ({"counter": None}, "counter"),
        ({"counter": "9"}, "counter"),  # not a counter of this center
        ({"counter": "1 please come"}, "counter"),
        ({"counter": "x" * 17}, "counter"),
        ({"language": None}, "language"),
        ({"language": "de"}, "language"),
        ({"language": "az-AZ"}, "language"),
        ({"text": "anything at all"}, "text"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(client, api, voice_dir, params, field):
    renders = voice.renders
    response = get(client, api.display, **params)
    assert_error(response, 422, "invalid_input", field=field)
    check(SPEC, response, "GET", DOC_PATH)
    assert voice.renders == renders  # nothing reached espeak-ng
    assert not voice_dir.exists() or not list(voice_dir.iterdir())


def test_a_repeated_parameter_is_refused(client, api):
    response = client.get(
        f"{URL}?number=A012&number=B001&counter=2&language=en", headers=api.display
    )
    assert_error(response, 422, "invalid_input", field="number")


def test_only_the_centers_displays_and_staff_may_ask(client, api, db):
    response = get(client)
    assert_error(response, 401, "unauthorized")
    check(SPEC, response, "GET", DOC_PATH)
    assert_error(get(client, bearer("dv_not-a-token")), 401, "invalid_token")
    for who in (api.kiosk, api.other_display, api.other_staff):
        response = get(client, who)
        assert_error(response, 403, "forbidden")
        check(SPEC, response, "GET", DOC_PATH)
    for who in (api.display, api.manager, api.admin):
        assert get(client, who).status_code == 200
    response = client.get(
        f"{PREFIX}/centers/nowhere/announcement.wav",
        query_string={"number": "A012", "counter": "2", "language": "en"},
        headers=api.admin,
    )
    assert_error(response, 404, "center_not_found")


def test_counters_of_another_center_are_not_accepted(client, api, db):
    with db.write() as s:
        other = factories.make_center(s, "sumqayit-1")
        factories.counter(s, other, "40")  # not a label baku-1 has
    response = get(client, api.display, counter="40")
    assert_error(response, 422, "invalid_input", field="counter")


def test_without_espeak_ng_the_server_says_so(client, api, app, voice_dir):
    app.config["VOICE_COMMAND"] = str(voice_dir / "no-such-espeak-ng")
    response = get(client, api.display)
    error = assert_error(response, 503, "voice_unavailable")
    check(SPEC, response, "GET", DOC_PATH)
    assert "is not installed" in error["message"]
    assert "make voice" in error["message"]


# --- the cache on its own ----------------------------------------------------------------


def test_a_hung_espeak_ng_is_stopped_with_a_clear_error(tmp_path):
    # A stand-in program that never finishes, as a hung espeak-ng would.
    hung = tmp_path / "hung-espeak"
    hung.write_text("#!/bin/sh\nexec sleep 60\n")
    hung.chmod(0o755)
    cache = voice.VoiceCache(tmp_path / "voice", command=str(hung), timeout=0.5)
    with pytest.raises(voice.VoiceError, match="did not finish within 0.5 s"):
        cache.audio(PHRASES["en"], "en")
    assert not list((tmp_path / "voice").iterdir())  # no half-written file left


def test_an_unknown_language_never_reaches_espeak_ng(tmp_path):
    with pytest.raises(ValueError, match="no voice for language 'de'"):
        voice.VoiceCache(tmp_path).audio("Hallo", "de")


def test_the_cache_keeps_its_size_by_dropping_the_least_recently_played(tmp_path):
    folder = tmp_path / "voice"
    probe = voice.VoiceCache(folder).audio("Ticket A, 0 0 1, counter 1", "en")
    size = len(probe.data)
    # Room for about two phrases of this length (the others are a little longer or shorter).
    cache = voice.VoiceCache(folder, max_bytes=int(size * 2.5))
    first = cache.path("Ticket A, 0 0 1, counter 1", "en")
    second = cache.audio("Ticket A, 0 0 2, counter 1", "en")
    second_path = folder / f"{second.key}.wav"
    assert first.exists() and second_path.exists()

    # The first phrase is played again (recently used); the second is not.
    os.utime(second_path, (1_000_000, second_path.stat().st_mtime))
    assert not cache.audio("Ticket A, 0 0 1, counter 1", "en").rendered
    assert first.stat().st_atime > 1_000_000

    third = cache.audio("Ticket A, 0 0 3, counter 1", "en")
    assert third.rendered
    assert (folder / f"{third.key}.wav").exists()
    assert first.exists()  # played recently: kept
    assert not second_path.exists()  # the least recently played: gone
    total = sum(p.stat().st_size for p in folder.glob("*.wav"))
    assert total <= cache.max_bytes
