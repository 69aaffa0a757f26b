"""Running tests/swarm.py (N Socket.IO clients in one gevent process) from a benchmark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Swarm:
    def __init__(
        self,
        url: str,
        token: str | None,
        count: int,
        event: str,
        timeout: float,
        *,
        auth: dict | list[dict] | None = None,
        sources: int = 0,
        source_base: int = 2,
        connect_rate: float = 0,
    ) -> None:
        """``token``: a device or staff token; or ``auth``: the auth object (a list: one
        per client, cycled). ``sources``: spread over that many loopback addresses
        from 127.0.0.``source_base`` (the server caps sockets per address).
        ``connect_rate``: clients started per second (0: about 1,000)."""
        self.count = count
        spread = ["--sources", str(sources), "--source-base", str(source_base)] if sources else []
        if connect_rate:
            spread += ["--connect-rate", str(connect_rate)]
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.swarm",
                url,
                json.dumps(auth if auth is not None else {"token": token}),
                str(count),
                event,
                "--timeout",
                str(timeout),
                *spread,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ready(self) -> int:
        line = self.process.stdout.readline().split()
        if len(line) != 2 or line[0] != "READY":
            raise RuntimeError(f"swarm did not get ready: {line}")
        return int(line[1])

    def result(self) -> dict:
        result = json.loads(self.process.stdout.readline())
        self.process.wait(30)
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
