"""Keyed hashes that stand for people: the keys exports print, and forgotten addresses.

Exports print `participant_key`: HMAC-SHA256, keyed with the district's
pseudonym secret (kept outside the database), of a random value each
participant has, never of their id: without the secret a key says nothing,
and even with it nothing about the id.

After a forget request the phone number or handle is gone from every table;
what stays is HMAC-SHA256 of `channel:address`, keyed with a key derived from
the district's pseudonym secret (kept outside the database). A message from
that address (a late one, a provider's retry, one parked in the spool) is
then recognised and dropped instead of starting a new person, and a copy of
the database alone cannot tell which numbers were forgotten.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["address_digest", "blocklist_key", "participant_key"]


def participant_key(secret: str, salt: str) -> str:
    """A participant's key in exports: 16 hex digits, stable while the secret is."""
    return hmac.new(secret.encode(), salt.encode(), hashlib.sha256).hexdigest()[:16]


def blocklist_key(secret: str) -> bytes:
    """The key of the forgotten-address hashes, derived from the pseudonym secret (so
    the export keys and the blocklist never share one key)."""
    return hmac.new(secret.encode(), b"engage forgotten addresses", hashlib.sha256).digest()


def address_digest(key: bytes, channel: str, address: str) -> str:
    """The keyed hash an address is remembered by once its owner is forgotten."""
    return hmac.new(key, f"{channel}:{address}".encode(), hashlib.sha256).hexdigest()
