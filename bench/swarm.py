"""Running tests/swarm.py (N Socket.IO clients in one gevent process) from a benchmark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Swarm:
    def __init__(self, url: str, token: str, count: int, event: str, timeout: float) -> None:
        self.count = count
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.swarm",
                url,
                json.dumps({"token": token}),
                str(count),
                event,
                "--timeout",
                str(timeout),
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
