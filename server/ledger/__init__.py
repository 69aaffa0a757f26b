"""The fairness ledger: every ticket event in a hash chain per center and day, sealed
daily with the installation's Ed25519 key, public and checkable by anyone.

* chain.py: entries appended in the transaction that makes the events.
* canonical.py: the canonical form and hashes (what a verifier recomputes).
* seal.py, keys.py, seal_log.py: the daily seals, the key that signs them, and the
  log of seals kept beside it.
* verify.py: checking a day from a downloaded file or from the database.
* proof.py: the public JSON lines and the public page's proof.

docs/ledger.md explains it for citizens and auditors.
"""

from __future__ import annotations

import os

from flask import Flask

from .keys import load_or_create
from .seal_log import SealLog


def key_path(app: Flask) -> str:
    """The signing key's file: LEDGER_KEY_FILE, or ledger-ed25519.pem in the instance folder."""
    return app.config.get("LEDGER_KEY_FILE") or os.path.join(
        app.instance_path, "ledger-ed25519.pem"
    )


def signing_key(app: Flask):
    """The installation's key, made on first use (not at start: no side effect in create_app)."""
    key = app.extensions.get("novbe_ledger_key")
    if key is None:
        key = app.extensions["novbe_ledger_key"] = load_or_create(key_path(app))
    return key


def seal_log(app: Flask) -> SealLog:
    """The log of every seal made, beside the key (seal_log.py)."""
    return SealLog(os.path.join(os.path.dirname(key_path(app)) or ".", "ledger-seals.jsonl"))
