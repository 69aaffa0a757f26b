"""``novbe webhook-receiver``: a small receiver for trying webhooks out. It checks each
request's Standard Webhooks signature (with the same code as the sender,
server/notify/channels/webhook.py: HMAC-SHA256 of ``id.timestamp.body``, a timestamp at
most 5 minutes off), prints the event's type and data, and answers 204, or 401 for a
request it cannot verify. It remembers the ``webhook-id``s it has seen and says so
when one comes again (a retry after a lost answer)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import click

from ..notify.channels.webhook import SECRET_PREFIX, secret_key, verify
from . import main

MAX_BODY = 1024 * 1024


def make_handler(secret: str, echo=click.echo) -> type[BaseHTTPRequestHandler]:
    seen: set[str] = set()
    lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(413)
                return
            body = self.rfile.read(length)
            if not verify(secret, dict(self.headers.items()), body):
                echo("refused: bad signature or timestamp", err=True)
                self._answer(401)
                return
            message_id = self.headers["webhook-id"]
            with lock:
                again = message_id in seen
                seen.add(message_id)
            event = json.loads(body)
            note = " (again: already handled)" if again else ""
            echo(f"{message_id} {event.get('type')}{note}")
            echo(json.dumps(event.get("data"), ensure_ascii=False, indent=2))
            self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args) -> None:  # noqa: A002
            pass  # the events are printed; the access log would only repeat them

    return Receiver


@main.command("webhook-receiver")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--secret", required=True, help="The webhook's secret (whsec_...).")
def webhook_receiver(host: str, port: int, secret: str) -> None:
    """Receive webhooks, verify their signatures and print the events."""
    try:
        if not secret.startswith(SECRET_PREFIX):
            raise ValueError
        secret_key(secret)
    except ValueError:
        raise click.BadParameter(
            "must be the webhook's secret, whsec_ followed by base64", param_hint="--secret"
        ) from None
    server = ThreadingHTTPServer((host, port), make_handler(secret))
    click.echo(f"listening on http://{host}:{port}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
