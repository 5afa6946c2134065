"""The hub's own Ed25519 signing key: what it signs its publications to the
kiosks with (federation.publications), and what a device pins when it
enrols (federation.api's enrolment answer, ``hub_key``).

Made once by schema step 25 and kept in the database (``hub_keys``): a
backup of the database carries it, and a hub restored from one signs with
the same key (docs/deploy-hub.md)."""

from __future__ import annotations

import nacl.signing
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from federation import store as db
from sync import publications as wire

#: the name of the key that signs publications in ``hub_keys``
KEY_NAME = "publications"


def signing_key(conn: Connection) -> nacl.signing.SigningKey:
    """The hub's signing key, as schema step 25 made it."""
    k = db.hub_keys.c
    seed = conn.execute(sa.select(k.seed).where(k.name == KEY_NAME)).scalar_one()
    return nacl.signing.SigningKey(bytes.fromhex(seed))


def verify_key_text(conn: Connection) -> str:
    """The hub's verify key as kiosks pin it: 64 hex digits."""
    return wire.key_text(signing_key(conn).verify_key)
