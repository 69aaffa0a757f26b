"""Announcements spoken by the server, for displays whose browser cannot speak.

A TV stick or kiosk browser often has no speech synthesis at all, or no voice for
Azerbaijani. The server then renders the announcement ("Bilet A, 0 1 2, masa 5")
with espeak-ng (Debian's package ``espeak-ng``, installed by ``make voice``) to a
WAV file, which the display page fetches and plays.

Every phrase is rendered once and kept on disk, named by the SHA-256 of what was
rendered (voice, speed and text), so when all the displays of a hall ask for the
same call at the same moment, or a ticket is recalled, espeak-ng does not run again.
The folder is bounded: past ``max_bytes`` the least recently played phrases go.

Only text built here from fixed words, a checked ticket number and a counter
label reaches espeak-ng (see ``announcement_text``), and it goes in on stdin, never
as an argument, so nothing a caller sends can become an option.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

# espeak-ng's voice per language (`espeak-ng --voices` lists them): az is its own
# Azerbaijani voice, en-us matches the display's en-US speech.
VOICES = {"az": "az", "ru": "ru", "en": "en-us"}
RATE_WPM = 150  # espeak-ng's default is 175; a hall echoes, a little slower carries better
TIMEOUT_S = 10.0  # a phrase takes well under a second; a hung process must not hold a request
DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # about 400 phrases of ~3 s (22 kHz, 16-bit mono)
FORMAT_VERSION = "1"  # change it when rendering changes, so old files are not served
PARTIAL_MAX_AGE_S = 3600  # a half-written file this old was left by a crash

# How many times espeak-ng has run in this process: for diagnostics, and for tests
# proving that a cached phrase is not rendered again.
renders = 0


class VoiceError(RuntimeError):
    """Rendering failed; the message says why and what to do."""


class VoiceUnavailable(VoiceError):
    """espeak-ng (or its voice for the language) is not installed here."""


def spoken_number(number: str) -> str:
    """The ticket number as display_sound.js speaks it: letters, a comma, then the digits one
    by one ("A012" -> "A, 0 1 2"), so it sounds like what is printed and shown."""
    match = re.fullmatch(r"([A-Za-z]*)([0-9]*)", number)
    if not match:
        return number
    letters, digits = match.groups()
    parts = [" ".join(letters), " ".join(digits)]
    return ", ".join(part for part in parts if part)


def announcement_text(template: str, number: str, counter: str) -> str:
    """The phrase from the words of ``announce.call`` (server/i18n/common/), e.g.
    ``"Ticket {number}, counter {counter}"``, filled in as display_sound.js does."""
    return template.replace("{number}", spoken_number(number)).replace("{counter}", counter)


@dataclass(frozen=True)
class Audio:
    key: str  # SHA-256 of what was rendered: the file name and the HTTP ETag
    data: bytes  # a whole WAV file
    rendered: bool  # False when it came from the cache


class VoiceCache:
    """Phrase audio in ``folder``, rendered on first use."""

    def __init__(
        self,
        folder: str | os.PathLike,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        command: str = "espeak-ng",
        timeout: float = TIMEOUT_S,
    ) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.command = command
        self.timeout = timeout

    def key(self, text: str, language: str) -> str:
        recipe = "\n".join([FORMAT_VERSION, VOICES[language], str(RATE_WPM), text])
        return hashlib.sha256(recipe.encode("utf-8")).hexdigest()

    def path(self, text: str, language: str) -> Path:
        return self.folder / f"{self.key(text, language)}.wav"

    def audio(self, text: str, language: str) -> Audio:
        """The WAV for ``text`` in ``language`` ("az", "ru", "en"), from the cache or
        rendered now. Raises VoiceUnavailable / VoiceError."""
        if language not in VOICES:
            raise ValueError(f"no voice for language {language!r}; known: {', '.join(VOICES)}")
        key = self.key(text, language)
        path = self.folder / f"{key}.wav"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            pass
        else:
            _mark_used(path)
            return Audio(key, data, rendered=False)
        # Two requests for a new phrase at once each render it; both write the same
        # file whole (see _render), so the cost is one extra run, never a torn file.
        data = self._render(text, VOICES[language], path)
        self._prune(keep=path)
        return Audio(key, data, rendered=True)

    def _render(self, text: str, voice: str, path: Path) -> bytes:
        global renders
        self.folder.mkdir(parents=True, exist_ok=True)
        # Written beside the final file and renamed into place: a reader sees either
        # no file or a whole one, even if this process dies half way.
        fd, partial = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".partial")
        os.close(fd)
        try:
            renders += 1
            self._run(text, voice, partial)
            data = Path(partial).read_bytes()
            check_wav(data)
            os.replace(partial, path)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        return data

    def _run(self, text: str, voice: str, output: str) -> None:
        argv = [self.command, "-v", voice, "-s", str(RATE_WPM), "-b", "1", "-w", output, "--stdin"]
        try:
            result = subprocess.run(
                argv,
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise VoiceUnavailable(
                f"{self.command} is not installed: run `make voice` "
                "(or `apt-get install espeak-ng`) on the server"
            ) from None
        except subprocess.TimeoutExpired:
            raise VoiceError(f"{self.command} did not finish within {self.timeout:g} s") from None
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip() or "no message"
            if "voice does not exist" in message:
                raise VoiceUnavailable(f"{self.command} has no voice '{voice}': {message}")
            raise VoiceError(f"{self.command} failed (exit {result.returncode}): {message}")

    def _prune(self, keep: Path) -> None:
        """Delete the least recently used phrases until the folder fits ``max_bytes``
        (never ``keep``, the one just made), and files left half-written by a crash."""
        now = time.time()
        files = []
        for entry in os.scandir(self.folder):
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue  # another request pruned it meanwhile
            if entry.name.endswith(".partial"):
                if now - stat.st_mtime > PARTIAL_MAX_AGE_S:
                    Path(entry.path).unlink(missing_ok=True)
            elif entry.name.endswith(".wav"):
                files.append((stat.st_atime, stat.st_size, entry.path))
        total = sum(size for _, size, _ in files)
        for _, size, name in sorted(files):
            if total <= self.max_bytes:
                break
            if name != str(keep):
                Path(name).unlink(missing_ok=True)
                total -= size


def check_wav(data: bytes) -> float:
    """The duration of a WAV file in seconds; VoiceError unless it holds some sound."""
    try:
        with wave.open(io.BytesIO(data)) as wav:
            frames, rate = wav.getnframes(), wav.getframerate()
    except (wave.Error, EOFError) as err:
        raise VoiceError(f"espeak-ng wrote no valid WAV: {err}") from None
    if not frames or not rate:
        raise VoiceError("espeak-ng wrote an empty WAV")
    return frames / rate


def _mark_used(path: Path) -> None:
    """Record a play in the file's access time (what pruning goes by), keeping its
    modification time, the moment it was rendered. Set explicitly: most file systems
    are mounted relatime and would not update it on every read."""
    try:
        stat = path.stat()
        os.utime(path, ns=(time.time_ns(), stat.st_mtime_ns))
    except OSError:
        pass  # pruned meanwhile, or a read-only cache: the audio is still good
