"""The installation's Ed25519 key for the ledger's seals.

* Kept in a file outside the database (``LEDGER_KEY_FILE``; default
  ``ledger-ed25519.pem`` in the instance folder), readable by the server's user only,
  with the log of seals beside it (seal_log.py): someone who can rewrite the database
  can neither sign what they rewrote nor get the server to, and every seal already
  published names the old head.
* Made on first use (the first seal, or ``novbe ledger-key``), atomically: several
  server processes starting together end up with one key. Every process and machine
  of an installation must share the file (docs/ledger.md).
* The public key is shown as base64 of its raw 32 bytes, and identified by ``key_id``,
  the first 16 hex digits of its SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..keyfiles import write_once


class LedgerKeyError(Exception):
    pass


def load_or_create(path: str | os.PathLike) -> Ed25519PrivateKey:
    path = Path(path)
    if not path.exists():
        _create(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise LedgerKeyError(f"{path} is not a PEM Ed25519 private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise LedgerKeyError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def _create(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_once(path, pem)  # another process making its own at once: one of them wins


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def key_id(public_key: str) -> str:
    return hashlib.sha256(base64.b64decode(public_key)).hexdigest()[:16]


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key as ``novbe`` shows it (base64 of 32 bytes), or a PEM file's text."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
            if not isinstance(key, Ed25519PublicKey):
                raise LedgerKeyError("the PEM key is not an Ed25519 public key")
            return key
        raw = base64.b64decode(text, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise LedgerKeyError(
            "a public key is base64 of 32 bytes (as the public page shows it) or a PEM file"
        ) from exc


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message)).decode("ascii")


def signature_holds(public_key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
