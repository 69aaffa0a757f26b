"""Loopback stand-ins for the far ends of the visitor channels, for every test that
sends notifications: a real SMTP server (aiosmtpd), an HTTP SMS gateway, a Telegram Bot
API, and a Web Push service that decrypts what it gets (RFC 8291) and checks the VAPID
signature (RFC 8292) as a real push service would.

Each is a context manager (``with SmsGateway() as gateway:``) that starts on a free
loopback port and stops on exit; each records what it got, in order, thread-safely.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import http_ece
from aiosmtpd.controller import Controller
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .live import free_port


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- SMTP --------------------------------------------------------------------------------------


class SmtpSink:
    """An SMTP server on loopback that keeps every message (as EmailMessage objects).
    Plain SMTP (security "none"), no login unless ``username``/``password`` are given."""

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.port = free_port()
        self.host = "127.0.0.1"
        self._lock = threading.Lock()
        self.arrived = threading.Condition(self._lock)
        kwargs: dict[str, Any] = {}
        if username is not None:

            def authenticate(server, session, envelope, mechanism, auth_data):
                from aiosmtpd.smtp import AuthResult

                ok = (
                    auth_data.login == username.encode()
                    and auth_data.password == (password or "").encode()
                )
                return AuthResult(success=ok)

            kwargs = {"authenticator": authenticate, "auth_require_tls": False}
        self.controller = Controller(self, hostname=self.host, port=self.port, **kwargs)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """Center settings for the email channel pointing here."""
        values = {
            "enabled": True,
            "host": self.host,
            "port": self.port,
            "security": "none",
            "username": "",
            "password": "",
            "sender": "Növbə <novbe@example.test>",
        }
        return {**values, **overrides}

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


# --- HTTP stand-ins ----------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class _Plan:
    """What the stand-in answers: ``failures`` answers with ``fail_status`` first, each
    after ``delay`` seconds."""

    failures: int = 0
    fail_status: int = 503
    delay: float = 0.0
    status: int = 200
    extra: dict = field(default_factory=dict)


class HttpStandIn:
    """A threaded HTTP server on loopback recording every request; subclasses answer."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[Request] = []
        self.plan = _Plan()
        self._lock = threading.Lock()
        self.arrived = threading.Condition(self._lock)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command,
                    self.path,
                    {k: v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                status, body, content_type = stand_in._answer(request)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timed out)
                    self.close_connection = True

            do_GET = do_POST = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, times: int, status: int = 503) -> None:
        """Answer the next ``times`` requests with ``status``."""
        with self._lock:
            self.plan.failures, self.plan.fail_status = times, status

    def slow(self, seconds: float) -> None:
        """Wait this long before answering each request."""
        self.plan.delay = seconds

    def _answer(self, request: Request) -> tuple[int, Any, str]:
        with self.arrived:
            self.requests.append(request)
            self.arrived.notify_all()
            failing = self.plan.failures > 0
            if failing:
                self.plan.failures -= 1
        if self.plan.delay:
            time.sleep(self.plan.delay)
        if failing:
            return self.plan.fail_status, {"error": "stand-in failure"}, "application/json"
        return self.respond(request)

    def respond(self, request: Request) -> tuple[int, Any, str]:
        return self.plan.status, {"ok": True}, "application/json"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmsGateway(HttpStandIn):
    """An SMS gateway: takes POST /send, answers 200 {"ok": true} (or fails as told)."""

    def settings(self, **overrides: Any) -> dict[str, Any]:
        values = {
            "enabled": True,
            "url": f"{self.url}/send",
            "headers": {"Authorization": "Bearer sms-secret-42"},
            "body": '{"to": "{to}", "text": "{text}", "ref": "{key}"}',
            "content_type": "application/json",
        }
        return {**values, **overrides}


class TelegramStandIn(HttpStandIn):
    """The Bot API's sendMessage and getUpdates for one bot (``token``). Queue what the
    bot's users "send" with :meth:`user_sends`; getUpdates honours ``offset``."""

    def __init__(self, token: str = "123456:TEST-token") -> None:
        super().__init__()
        self.token = token
        self.updates: list[dict] = []
        self._next_update = 1000

    def settings(self, **overrides: Any) -> dict[str, Any]:
        values = {
            "enabled": True,
            "base_url": self.url,
            "token": self.token,
            "bot_username": "novbe_test_bot",
        }
        return {**values, **overrides}

    def user_sends(self, chat_id: int, text: str, language_code: str = "en") -> None:
        with self._lock:
            self._next_update += 1
            self.updates.append(
                {
                    "update_id": self._next_update,
                    "message": {
                        "message_id": self._next_update,
                        "from": {"id": chat_id, "is_bot": False, "language_code": language_code},
                        "chat": {"id": chat_id, "type": "private"},
                        "date": int(time.time()),
                        "text": text,
                    },
                }
            )

    def sent(self) -> list[dict]:
        """The sendMessage calls' JSON bodies, in order."""
        return [r.json() for r in self.requests if r.path.endswith("/sendMessage")]

    def respond(self, request: Request) -> tuple[int, Any, str]:
        path = urlsplit(request.path)
        if not path.path.startswith(f"/bot{self.token}/"):
            return (
                401,
                {"ok": False, "error_code": 401, "description": "Unauthorized"},
                "application/json",
            )
        method = path.path.rsplit("/", 1)[1]
        if method == "sendMessage":
            chat = request.json()["chat_id"]
            return (
                200,
                {"ok": True, "result": {"message_id": 1, "chat": {"id": chat}}},
                "application/json",
            )
        if method == "getUpdates":
            offset = int(parse_qs(path.query).get("offset", ["0"])[0])
            with self._lock:
                if offset:  # Telegram forgets what was acknowledged
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                result = list(self.updates)
            return 200, {"ok": True, "result": result}, "application/json"
        return 404, {"ok": False, "description": "Not Found"}, "application/json"


class PushService(HttpStandIn):
    """A Web Push service: subscriptions are POST /push/<n>. Holds the subscriber's side
    (a P-256 key pair and auth secret, as a browser would) so it can decrypt what it
    gets, and checks each request's VAPID JWT like a real push service."""

    def __init__(self) -> None:
        super().__init__()
        self.subscriber_key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = b"0123456789abcdef"  # 16 bytes, as browsers make

    def subscription(self, n: int = 1) -> dict[str, Any]:
        """What the browser's PushSubscription.toJSON() gives (endpoint and keys)."""
        raw = self.subscriber_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": f"{self.url}/push/{n}",
            "keys": {"p256dh": b64url(raw), "auth": b64url(self.auth_secret)},
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        """The payload of one push (aes128gcm), as the service worker would read it."""
        plain = http_ece.decrypt(
            body,
            private_key=self.subscriber_key,
            auth_secret=self.auth_secret,
            version="aes128gcm",
        )
        return json.loads(plain)

    def gone(self) -> None:
        """From now on every subscription is gone (410)."""
        self.plan.status = 410

    def respond(self, request: Request) -> tuple[int, Any, str]:
        status = self.plan.status if self.plan.status != 200 else 201
        return status, b"", "text/plain"


def verify_vapid(authorization: str, audience: str, public_key_b64url: str | None = None) -> dict:
    """The claims of a ``vapid t=<jwt>, k=<key>`` header, after checking the ES256
    signature with ``k`` (and that ``k`` is the expected key), ``aud`` and ``exp``
    (within 24 h). AssertionError if anything is off."""
    assert authorization.startswith("vapid "), authorization
    parts = dict(p.strip().split("=", 1) for p in authorization[len("vapid ") :].split(","))
    token, key = parts["t"], parts["k"]
    if public_key_b64url is not None:
        assert key == public_key_b64url, "signed with another key"
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
    header_b64, claims_b64, signature_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    assert header["alg"] == "ES256", header
    signature = b64url_decode(signature_b64)
    assert len(signature) == 64
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise AssertionError("the VAPID JWT's signature does not hold") from exc
    claims = json.loads(b64url_decode(claims_b64))
    assert claims["aud"] == audience, claims
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600, claims
    assert str(claims.get("sub", "")).startswith(("mailto:", "https:")), claims
    return claims
