"""The ledger's canonical form and hashes: what anyone recomputes to check a day.

* An entry is a JSON object of strings, integers and nulls. Its canonical form is
  UTF-8 JSON with the keys sorted, no whitespace, and non-ASCII characters as
  themselves (for these types the same bytes as RFC 8785, JSON Canonicalization).
* An entry's ``hash`` is the SHA-256 (hex) of the canonical form of the entry without
  its ``hash`` key. The entry holds ``prev``, the previous entry's hash (64 zeros for
  the day's first), and ``seq``, 1, 2, 3, ... in the order the events were committed:
  changing, removing or inserting any entry changes every hash after it.
* A seal is the canonical form of ``{"center", "day", "entries", "head", "previous",
  "sealed_at"}`` signed with Ed25519; ``previous`` is the hash of the center's seal
  before it (64 zeros for its first), so a seal cannot be replaced unnoticed either.

Nothing here touches the database: ``novbe verify-ledger --file`` runs on this alone.
"""

from __future__ import annotations

import hashlib
import json

GENESIS = "0" * 64

SEAL_FIELDS = ("center", "day", "entries", "head", "previous", "sealed_at")


def canonical_json(value: dict) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry_hash(entry: dict) -> str:
    """The hash of an entry: over every key but ``hash`` itself."""
    return sha256_hex(canonical_json({k: v for k, v in entry.items() if k != "hash"}))


def seal_message(seal: dict) -> bytes:
    """The bytes a seal's signature covers."""
    return canonical_json({field: seal[field] for field in SEAL_FIELDS})


def seal_hash(seal: dict) -> str:
    """What the next seal's ``previous`` holds: the signed message and its signature."""
    return sha256_hex(seal_message(seal) + b"." + seal["signature"].encode("ascii"))


def private_digest(salt: str, private: dict) -> str:
    """The digest of an event's private part (who did it, free-text reasons): the
    database check recomputes it from ``ticket_events``; the public sees only this."""
    return sha256_hex(salt.encode("ascii") + b"." + canonical_json(private))
