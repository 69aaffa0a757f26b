"""A staff member's bearer token for an agent that calls the REST API (the counter agent),
renewed by logging in again when the server refuses it.

Invariants:

* Given a token only, the agent uses it until it is refused, and cannot renew it; given a
  username and password, it logs in (``POST /api/v1/auth/token``) when it has no token
  and again when one is refused. ``renew(refused)`` logs in only while ``refused`` is still
  the current token: several requests refused with one token lead to one log-in.
* The password is kept in memory only, never logged.
* Every request has a time-out (:data:`HTTP_TIMEOUT`); trouble reaching the server or a
  refusal is an :class:`AgentError` whose message says why, in the API's words.
"""

from __future__ import annotations

import logging
import threading

import requests

log = logging.getLogger("novbe.counter_agent")  # its lines are the counter agent's

HTTP_TIMEOUT = (5, 10)  # connect, read (seconds)


class AgentError(Exception):
    """Something the agent cannot do (log in, reach the server); the message says why."""


def error_message(response: requests.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['message']} ({error['code']})"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


class Credentials:
    """The staff bearer token, renewed by logging in again when one is refused, if the
    agent was given a username and password."""

    def __init__(
        self,
        server: str,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        http: requests.Session | None = None,
    ) -> None:
        if not token and not (username and password):
            raise ValueError("give a staff token, or a username and password")
        self.server = server
        self.username = username
        self._password = password
        self._token = token
        self._http = http or requests.Session()
        self._lock = threading.Lock()

    @property
    def can_renew(self) -> bool:
        return bool(self.username and self._password)

    def token(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._login()
            return self._token

    def renew(self, refused: str) -> bool:
        """The server refused ``refused``: log in again if we can. True if we did."""
        if not self.can_renew:
            return False
        with self._lock:
            if self._token == refused:
                self._token = None
        try:
            self.token()
        except AgentError as exc:
            log.error("log-in as %s failed: %s", self.username, exc)
            return False
        return True

    def _login(self) -> str:
        if not self.can_renew:
            raise AgentError("the token was refused and there is no password to log in again")
        try:
            response = self._http.post(
                f"{self.server}/api/v1/auth/token",
                json={"username": self.username, "password": self._password},
                timeout=HTTP_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise AgentError(f"server not reachable: {exc}") from None
        if response.status_code != 201:
            raise AgentError(error_message(response))
        log.info("logged in as %s", self.username)
        return response.json()["token"]
