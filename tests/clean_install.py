"""CI: a clean install serves every screen (`make install-check`, part of `make test`).

    python3 tests/clean_install.py [SOURCE]      # SOURCE: the source tree, default this one

Installs Növbə as a user would, into throwaway virtual environments outside the source
tree, and serves it from a directory outside the source tree:

1. sqlite:   `pip install SOURCE` (no extras), SQLite in the temporary directory;
2. postgres: `pip wheel --no-deps SOURCE`, its contents checked, installed with the
   [postgres,redis] extras in a second venv, served on PostgreSQL (a fresh schema,
   dropped afterwards) with the Redis message queue on a channel of its own.

For each: `novbe init-db`, `import-center`, `create-user`, `device-token`, `novbe serve`;
/healthz; a staff login; one ticket issued with the kiosk's token; /readyz, /metrics,
the OpenAPI document, the phone's QR code and every screen's page
(kiosk, display, counter, phone, manage, manage/admin, public) and every script,
stylesheet and image it references, and what those stylesheets reference, must answer
2xx from this server; the display and the phone connect to the live channel over
WebSocket and get their snapshot; the server is stopped.

Standard library only. Exits non-zero naming the failing step; always stops the server
and removes what it made. Settings: NOVBE_TEST_POSTGRES_URL (PostgreSQL database, default
postgresql+psycopg://root@127.0.0.1:5432/test), NOVBE_CLEAN_INSTALL_REDIS (default
redis://127.0.0.1:6379/9).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

SOURCE = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
POSTGRES_URL = os.environ.get(
    "NOVBE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("NOVBE_CLEAN_INSTALL_REDIS", "redis://127.0.0.1:6379/9")
START_DEADLINE_S = 60
PASSWORD = "clean-install-pw"

# A small center of our own: its kiosk has no printer (the demo's prints to port 9100,
# which may be somebody else's loopback printer), and it is open all day in UTC.
CENTER = "clean-1"
CENTER_YAML = f"""\
code: {CENTER}
name: {{az: "Təmiz quraşdırma", ru: "Чистая установка", en: "Clean install"}}
timezone: UTC
hours: {{open: "00:00", close: "23:59"}}
categories:
  - code: general
    name: {{az: Ümumi, ru: Общее, en: General}}
    services:
      - code: general
        prefix: A
        target_wait_min: 10
        name: {{az: Ümumi, ru: Общее, en: General}}
counters:
  - {{label: "1", services: [general]}}
devices:
  - {{kind: kiosk, name: kiosk-1}}
  - {{kind: display, name: hall}}
"""

# Run by the installed venv's Python: the screens' live channel over WebSocket (the only
# transport a multi-process server takes), through the installed python-socketio client.
LIVE_CHECK = """\
import sys, threading, socketio
url, auth = sys.argv[1], {sys.argv[2]: sys.argv[3]}
got = threading.Event()
client = socketio.Client(reconnection=False)
client.on("snapshot", lambda data: got.set(), namespace="/live")
client.connect(url, namespaces=["/live"], transports=["websocket"], auth=auth, wait_timeout=10)
ok = got.wait(15)
client.disconnect()
sys.exit(0 if ok else "connected, but no snapshot within 15 s")
"""


class StepFailed(Exception):
    pass


# Failures while cleaning up: reported, and they fail the run, without hiding the error
# that led there.
CLEANUP_FAILURES: list[str] = []


@contextlib.contextmanager
def cleanup(name: str) -> Iterator[None]:
    try:
        with step(name):
            yield
    except StepFailed as failure:
        print(f"    cleanup failed: {failure}", file=sys.stderr)
        CLEANUP_FAILURES.append(str(failure))


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    print(f"==> {name}", flush=True)
    try:
        yield
    except StepFailed:
        raise
    except Exception as error:  # any failure inside is this step's
        raise StepFailed(f"{name}: {type(error).__name__}: {error}") from error


def run(
    args: list[str | Path], cwd: Path, env: dict[str, str], stdin: str = "", shown: str = ""
) -> str:
    """Run a command; its output is shown only if it fails."""
    shown = shown or " ".join(str(a) for a in args)
    print(f"    $ {shown}", flush=True)
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"`{shown}` exited {result.returncode}\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return result.stdout


def clean_env() -> dict[str, str]:
    """The environment without our settings or anything that could import the source."""
    drop = ("NOVBE_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def make_venv(path: Path, env: dict[str, str]) -> Path:
    run([sys.executable, "-m", "venv", path], cwd=path.parent, env=env)
    return path / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str, data: dict | None = None, token: str | None = None) -> tuple[int, str, bytes]:
    """(status, content type, body); HTTP errors are answers, not exceptions."""
    headers = {"Accept-Language": "en"}
    body = None
    if data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


class References(HTMLParser):
    """The scripts, stylesheets, icons and images a page makes the browser load."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        ref = {"script": a.get("src"), "img": a.get("src"), "link": a.get("href")}.get(tag)
        if ref:
            self.found.append(ref)


CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)""")


class Server:
    """`novbe serve` in its own process group, so that stopping it stops its worker too."""

    def __init__(self, bin_dir: Path, cwd: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = cwd / "serve.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        args = [bin_dir / "novbe", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        print(f"    $ {' '.join(map(str, args))}", flush=True)
        self.process = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                status, _, body = fetch(self.base + "/healthz")
                if status == 200 and json.loads(body).get("status") == "ok":
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"no /healthz within {START_DEADLINE_S} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()


def set_up_and_serve(label: str, bin_dir: Path, work: Path, env: dict[str, str]) -> None:
    """The README's steps from a directory outside the source tree, then every check."""
    run_dir = work / f"run-{label}"
    run_dir.mkdir()
    with step(f"{label}: the installed package is the one imported"):
        where = run(
            [bin_dir / "python", "-c", "import server; print(server.__file__)"], run_dir, env
        )
        if not Path(where.strip()).is_relative_to(bin_dir.parent):
            raise RuntimeError(f"`server` imported from {where.strip()}, not from the venv")
    with step(f"{label}: novbe init-db, import-center, create-user, device-token"):
        novbe = bin_dir / "novbe"
        run([novbe, "init-db"], run_dir, env)
        (run_dir / "center.yaml").write_text(CENTER_YAML, encoding="utf-8")
        run([novbe, "import-center", "center.yaml"], run_dir, env)
        create = [novbe, "create-user", "staff1", "--role", "staff", "--center", CENTER]
        run([*create, "--password-stdin"], run_dir, env, stdin=PASSWORD + "\n")
        kiosk_token = run([novbe, "device-token", CENTER, "kiosk-1"], run_dir, env).strip()
        display_token = run([novbe, "device-token", CENTER, "hall"], run_dir, env).strip()
    server = None
    try:
        with step(f"{label}: novbe serve answers /healthz"):
            server = Server(bin_dir, run_dir, env)
            server.wait_healthy()
            print(f"    serving at {server.base}")
        base = server.base
        with step(f"{label}: staff login and the queue"):
            login = {"username": "staff1", "password": PASSWORD}
            status, _, body = fetch(f"{base}/api/v1/auth/token", login)
            if status != 201:
                raise RuntimeError(f"login answered {status}: {body[:300]!r}")
            staff_token = json.loads(body)["token"]
            status, _, body = fetch(f"{base}/api/v1/centers/{CENTER}/queue", token=staff_token)
            if status != 200:
                raise RuntimeError(f"the queue answered {status}: {body[:300]!r}")
        with step(f"{label}: issue a ticket with the kiosk's token"):
            ticket = {"service": "general", "language": "en"}
            url = f"{base}/api/v1/centers/{CENTER}/tickets"
            status, _, body = fetch(url, ticket, token=kiosk_token)
            if status != 201:
                raise RuntimeError(f"issuing answered {status}: {body[:300]!r}")
            issued = json.loads(body)
            tracking = issued["tracking_token"]
            print(f"    ticket {issued['number']}")
        pages = [
            "/",
            "/readyz",  # the database and, in the second run, the message queue answer
            "/metrics",  # prometheus_client; answered to loopback by default
            "/api/v1/openapi.json",
            "/kiosk/kiosk-1",
            "/display/hall",
            "/counter",
            f"/t/{tracking}",
            f"/api/v1/tickets/{tracking}/qr.svg",
            "/manage",
            "/manage/admin",
            f"/public/{CENTER}",
        ]
        with step(f"{label}: every screen's page and what it loads"):
            check_pages(base, pages)
        with step(f"{label}: the display and the phone get their live snapshot"):
            for kind, auth in (
                ("display", ("token", display_token)),
                ("phone", ("ticket", tracking)),
            ):
                command = [bin_dir / "python", "-c", LIVE_CHECK, base, *auth]
                run(command, run_dir, env, shown=f"python -c LIVE_CHECK {base} {auth[0]} ...")
                print(f"    {kind}: snapshot received")
    finally:
        if server is not None:
            with cleanup(f"{label}: stop the server"):
                server.stop()
                print(f"    stopped (exit {server.process.returncode})")


def check_pages(base: str, pages: list[str]) -> None:
    """Each page answers 200; everything it references (and what its stylesheets
    reference) answers 2xx, non-empty, from this server."""
    checked: set[str] = set()
    failures: list[str] = []
    for page in pages:
        url = base + page
        status, kind, body = fetch(url)
        if status != 200:
            failures.append(f"{page}: {status}")
            continue
        refs = []
        if kind.startswith("text/html"):
            parser = References()
            parser.feed(body.decode("utf-8"))
            refs = parser.found
        loaded = 0
        queue = [urljoin(url, ref) for ref in refs if not ref.startswith("data:")]
        while queue:
            asset = queue.pop()
            if asset in checked:
                continue
            checked.add(asset)
            if urlsplit(asset).netloc != urlsplit(base).netloc:
                failures.append(f"{page} loads {asset} from another server")
                continue
            status, kind, content = fetch(asset)
            loaded += 1
            if not 200 <= status < 300 or not content:
                failures.append(f"{page} -> {urlsplit(asset).path}: {status}, {len(content)} bytes")
            elif kind.startswith("text/css"):
                found = CSS_URL.findall(content.decode("utf-8", "replace"))
                queue += [urljoin(asset, u) for u in found if not u.startswith(("data:", "#"))]
        print(f"    {page}: 200, {len(refs)} references ({loaded} new) loaded")
    if not any(urlsplit(u).path == "/vendor/socket.io.min.js" for u in checked):
        failures.append("no page loaded /vendor/socket.io.min.js")
    if failures:
        raise RuntimeError("\n  " + "\n  ".join(failures))


def check_wheel(wheel: Path) -> None:
    """The wheel holds the browser packages and every data file of the source packages."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        packages = archive.read(top_level).decode().split()
    needed = {
        "server/static/vendor/socket.io.min.js",
        "server/static/vendor/socket.io-client.LICENSE",
    }
    for package in packages:
        for path in (SOURCE / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                needed.add(path.relative_to(SOURCE).as_posix())
    missing = sorted(needed - names)
    if missing:
        raise RuntimeError("missing from the wheel: " + ", ".join(missing))
    print(f"    {len(names)} files; packages {', '.join(packages)}; nothing missing")


def postgres_admin(bin_dir: Path, env: dict[str, str], cwd: Path, sql: str) -> None:
    """Run ``sql`` on the test database with the installed psycopg (the [postgres] extra)."""
    code = (
        "import sys, psycopg\n"
        "with psycopg.connect(sys.argv[1], autocommit=True) as c: c.execute(sys.argv[2])\n"
    )
    url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    run([bin_dir / "python", "-c", code, url, sql], cwd, env, shown=f"psycopg: {sql}")


def forget_redis_keys(bin_dir: Path, env: dict[str, str], cwd: Path, channel: str) -> None:
    code = (
        "import sys, redis\n"
        "r = redis.Redis.from_url(sys.argv[1])\n"
        "keys = list(r.scan_iter(match=f'*{sys.argv[2]}*'))\n"
        "if keys: r.delete(*keys)\n"
    )
    shown = f"redis: delete the keys naming {channel}"
    run([bin_dir / "python", "-c", code, REDIS_URL, channel], cwd, env, shown=shown)


def sqlite_install(work: Path) -> None:
    env = clean_env()
    with step("sqlite: a venv with `pip install SOURCE` (no extras)"):
        bin_dir = make_venv(work / "venv-sqlite", env)
        run([bin_dir / "python", "-m", "pip", "install", "-q", SOURCE], work, env)
    env["NOVBE_DATABASE_URL"] = f"sqlite:///{work / 'novbe.db'}"
    env["NOVBE_SECRET_KEY"] = secrets.token_hex(32)
    set_up_and_serve("sqlite", bin_dir, work, env)


def wheel_install(work: Path) -> None:
    env = clean_env()
    with step("postgres: build a wheel and check its contents"):
        bin_dir = make_venv(work / "venv-wheel", env)
        wheels = work / "wheels"
        run(
            [bin_dir / "python", "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, SOURCE],
            work,
            env,
        )
        (wheel,) = wheels.glob("novbe-*.whl")
        check_wheel(wheel)
    with step("postgres: install the wheel with [postgres,redis] in a fresh venv"):
        run(
            [bin_dir / "python", "-m", "pip", "install", "-q", f"{wheel}[postgres,redis]"],
            work,
            env,
        )
    schema = f"novbe_clean_{os.getpid()}_{secrets.token_hex(4)}"
    channel = f"novbe-clean-install-{os.getpid()}-{secrets.token_hex(4)}"
    with step(f"postgres: create schema {schema}"):
        postgres_admin(bin_dir, env, work, f"CREATE SCHEMA {schema}")
    try:
        separator = "&" if "?" in POSTGRES_URL else "?"
        options = quote(f"-csearch_path={schema}")
        env["NOVBE_DATABASE_URL"] = f"{POSTGRES_URL}{separator}options={options}"
        env["NOVBE_MESSAGE_QUEUE"] = REDIS_URL
        env["NOVBE_MESSAGE_CHANNEL"] = channel
        env["NOVBE_SECRET_KEY"] = secrets.token_hex(32)
        print(f"    database schema {schema}, message queue {REDIS_URL} channel {channel}")
        set_up_and_serve("postgres", bin_dir, work, env)
    finally:
        with cleanup(f"postgres: drop schema {schema} and the channel's Redis keys"):
            postgres_admin(bin_dir, env, work, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            forget_redis_keys(bin_dir, env, work, channel)


def main() -> int:
    if not (SOURCE / "setup.cfg").is_file():
        print(f"{SOURCE} is not Növbə's source tree", file=sys.stderr)
        return 2
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="novbe-clean-install-"))
    print(f"clean install of {SOURCE} in {work}", flush=True)
    try:
        sqlite_install(work)
        wheel_install(work)
    except StepFailed as failure:
        print(f"\nclean install FAILED at {failure}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if CLEANUP_FAILURES:
        print(
            "\nclean install FAILED at cleaning up: " + "; ".join(CLEANUP_FAILURES), file=sys.stderr
        )
        return 1
    print(f"\nclean install OK ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
