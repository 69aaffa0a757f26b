"""The installation's VAPID key (RFC 8292): it signs every Web Push request, and its
public half is the browser's ``applicationServerKey``.

* Kept in a file outside the database (``VAPID_KEY_FILE``; default ``vapid-p256.pem``
  in the instance folder), readable by the server's user only: a P-256 private key in
  PEM (PKCS#8).
* Made on first use (the first push, the first phone page asking for it, or
  ``novbe vapid-keys``), atomically like the ledger's key (server/ledger/keys.py):
  several processes starting together end up with one key. Every process of an
  installation must share the file; a new key orphans every subscription made with the
  old one (browsers bind a subscription to the key).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

from ..keyfiles import write_once


class VapidKeyError(Exception):
    pass


def key_path(app: Flask) -> str:
    """VAPID_KEY_FILE, or vapid-p256.pem in the instance folder."""
    return app.config.get("VAPID_KEY_FILE") or os.path.join(app.instance_path, "vapid-p256.pem")


def load_or_create(path: str | os.PathLike) -> ec.EllipticCurvePrivateKey:
    path = Path(path)
    if not path.exists():
        _create(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise VapidKeyError(f"{path} is not a PEM private key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise VapidKeyError(f"{path} does not hold a P-256 (prime256v1) key")
    return key


def _create(path: Path) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_once(path, pem)  # another process making its own at once: one of them wins


def private_key(app: Flask) -> ec.EllipticCurvePrivateKey:
    """The key, loaded (or made) once per process."""
    key = app.extensions.get("novbe_vapid_key")
    if key is None:
        key = app.extensions["novbe_vapid_key"] = load_or_create(key_path(app))
    return key


def available(app: Flask) -> bool:
    """Whether Web Push can sign: the key is there or can be made (False if not, e.g. a
    read-only instance folder; the phone page then offers no Web Push)."""
    try:
        private_key(app)
    except (OSError, VapidKeyError):
        return False
    return True


def private_key_pem(app: Flask) -> str:
    return (
        private_key(app)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_key_raw(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    """The public key as 65 bytes (0x04 || X || Y), as browsers and RFC 8292 want it."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def public_key_b64url(app: Flask) -> str | None:
    """The browser's ``applicationServerKey`` (base64url, no padding), or None when the
    key cannot be had."""
    if not available(app):
        return None
    return b64url(public_key_raw(private_key(app)))
