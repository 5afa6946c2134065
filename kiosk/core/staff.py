"""Staff and volunteers: who may use the PIN modes, their PINs, and the audit log.

The PIN alone says who you are (the kiosk has no user list to pick from), so
two active people never share a PIN, and ``authenticate`` tries the PIN
against each active person's hash until one matches.

PINs are hashed with ``hashlib.scrypt`` (a random 16-byte salt per person,
n=2**14, r=8, p=1: 16 MiB a hash; benchmarks/bench_pin.py measures its time
on the kiosk's class of machine). A 4-digit PIN cannot resist an offline
search whatever the KDF; what protects it is the lockout: after 5 wrong PINs
in a row the kiosk locks for 30 s, then 60 s, 120 s… (capped at an hour) until
a right PIN. The lockout is per kiosk and lives in the ``pin_attempts``
table, so restarting the program does not reset it. It cannot be per person:
a wrong PIN names nobody. Nor per client address, as a server's sign-in is:
the kiosk is one device with one PIN pad, so everyone who tries a PIN tries
it from the same place, and whoever can reach the pad can reach it as anyone.

Every attempt is counted before its PIN is tested, in one write transaction
(BEGIN IMMEDIATE) that also checks the lock: attempts made at once, from
several connections or processes, each take their turn in the count, and
no more than ``MAX_FAILURES`` PINs are ever tested before the lock holds.

Managing people takes an ``actor``: a staff-role person (as returned by
``authenticate``), or None for the machine's owner (the ``kiosk`` command,
first setup). A volunteer cannot manage people.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import os
import re
from datetime import timedelta
from typing import Any

from kiosk.core import changelog
from kiosk.core.errors import N_, Conflict, InvalidInput, Locked, NotFound
from kiosk.core.store import Store
from sync.protocol import new_id, parse_utc, utc_iso

ROLES = ("volunteer", "staff")
SCRYPT_PARAMS = "scrypt:n=16384,r=8,p=1"
MAX_FAILURES = 5
FIRST_LOCK_S = 30
MAX_LOCK_S = 3600


def hash_pin(pin: str, salt: bytes, params: str = SCRYPT_PARAMS) -> bytes:
    """The PIN's scrypt hash under ``params`` ('scrypt:n=…,r=…,p=…')."""
    kdf, _, costs = params.partition(":")
    if kdf != "scrypt":
        raise ValueError(f"unknown PIN hash {kdf!r}")
    cost = {key: int(value) for key, value in (item.split("=") for item in costs.split(","))}
    return hashlib.scrypt(
        pin.encode(),
        salt=salt,
        n=cost["n"],
        r=cost["r"],
        p=cost["p"],
        maxmem=256 * cost["n"] * cost["r"] + 1024 * 1024,
        dklen=32,
    )


def lock_delay(lockouts: int) -> int:
    """Seconds of the ``lockouts``-th lockout in a row: 30, 60, 120… at most an hour."""
    return min(MAX_LOCK_S, FIRST_LOCK_S * 2 ** (lockouts - 1))


def _check_pin(pin: Any, field: str = "pin") -> str:
    if not isinstance(pin, str) or not re.fullmatch(r"[0-9]{4,8}", pin):
        raise InvalidInput(field, N_("Le code doit avoir de 4 à 8 chiffres."), "must be 4 to 8 digits")
    return pin


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name", N_("Indiquez un nom."), "must be a non-empty text", value=name)
    name = name.strip()
    if len(name) > 100 or any(ord(c) < 32 for c in name):
        raise InvalidInput(
            "name",
            N_("Ce nom n'est pas valable."),
            "must be at most 100 characters, without control characters",
            value=name,
        )
    return name


def _replicate(store: Store, staff_id: str, changed: dict[str, Any]) -> None:
    """An account's change for the centre's other devices (when this one
    replicates): its PIN's salt and hash travel as hex, sealed with the
    centre's key, so a PIN set on one device opens the others. When
    someone last signed in stays on the device."""
    fields = {k: v.hex() if isinstance(v, bytes) else v for k, v in changed.items()}
    changelog.record(store.conn, "staff", staff_id, fields)


def check_actor(store: Store, actor: dict | None) -> dict | None:
    """The acting person's row (id, name, role) when ``actor`` is given: it
    must be an active volunteer or staff member. None is a resident or the
    machine's owner."""
    if actor is None:
        return None
    row = store.one(
        "SELECT id, name, role FROM staff WHERE id = ? AND active = 1",
        (actor.get("id") if isinstance(actor, dict) else None,),
    )
    if row is None:
        raise InvalidInput(
            "actor",
            N_("Cette action demande le code d'un bénévole ou d'un salarié."),
            "actor must be an active volunteer or staff member",
            value=actor,
        )
    return row


class Staff:
    def __init__(self, store: Store):
        self.store = store

    # ------------------------------------------------------------ people

    def add(self, name: str, role: str, pin: str, actor: dict | None = None) -> dict:
        """Add a volunteer or staff member; returns {id, name, role}."""
        name, pin = _check_name(name), _check_pin(pin)
        if role not in ROLES:
            raise InvalidInput(
                "role",
                N_("Choisissez bénévole ou salarié."),
                f"must be one of {', '.join(ROLES)}",
                value=role,
            )
        salt, person_id = os.urandom(16), new_id()
        pin_hash = hash_pin(pin, salt)
        with self.store.transaction():
            self._require_manager(actor)
            self._refuse_shared_pin(pin, except_id=None)
            now = self.store.now_iso()
            row = {
                "name": name,
                "role": role,
                "pin_salt": salt,
                "pin_hash": pin_hash,
                "pin_params": SCRYPT_PARAMS,
                "active": 1,
                "created_at": now,
                "updated_at": now,
            }
            self.store.db.table("staff").insert({"id": person_id, **row})
            _replicate(self.store, person_id, row)
            self.store.audit(actor, "staff.add", staff_id=person_id, name=name, role=role)
        return {"id": person_id, "name": name, "role": role}

    def reset_pin(self, staff_id: str, new_pin: str, actor: dict | None) -> None:
        pin = _check_pin(new_pin, "new_pin")
        salt = os.urandom(16)
        pin_hash = hash_pin(pin, salt)
        with self.store.transaction():
            self._require_manager(actor)
            person = self._active(staff_id)
            self._refuse_shared_pin(pin, except_id=staff_id, field="new_pin")
            changed = {
                "pin_salt": salt,
                "pin_hash": pin_hash,
                "pin_params": SCRYPT_PARAMS,
                "updated_at": self.store.now_iso(),
            }
            self.store.db.table("staff").update(staff_id, changed)
            _replicate(self.store, staff_id, changed)
            self.store.audit(actor, "staff.reset_pin", staff_id=staff_id, name=person["name"])

    def deactivate(self, staff_id: str, actor: dict | None) -> None:
        """Withdraw someone's access (kept for the audit log's sake)."""
        with self.store.transaction():
            self._require_manager(actor)
            person = self._active(staff_id)
            if person["role"] == "staff" and self._active_staff_count() == 1:
                raise Conflict(
                    "staff_id",
                    N_("Impossible : c'est le dernier salarié actif."),
                    "the last active staff member cannot be deactivated",
                    value=staff_id,
                )
            changed = {"active": 0, "updated_at": self.store.now_iso()}
            self.store.db.table("staff").update(staff_id, changed)
            _replicate(self.store, staff_id, changed)
            self.store.audit(actor, "staff.deactivate", staff_id=staff_id, name=person["name"])

    def list(self) -> list[dict]:
        """Everyone, active first, by name; never the PIN hashes."""
        rows = self.store.query(
            "SELECT id, name, role, active, created_at FROM staff ORDER BY active DESC, name COLLATE NOCASE"
        )
        for row in rows:
            row["active"] = bool(row["active"])
        return rows

    def _active(self, staff_id: str) -> dict:
        row = self.store.one("SELECT id, name, role FROM staff WHERE id = ? AND active = 1", (staff_id,))
        if row is None:
            raise NotFound(
                "staff_id",
                N_("Cette personne est introuvable."),
                f"no active staff member {staff_id!r}",
                value=staff_id,
            )
        return row

    def _active_staff_count(self) -> int:
        return self.store.conn.execute(
            "SELECT count(*) FROM staff WHERE active = 1 AND role = 'staff'"
        ).fetchone()[0]

    def _require_manager(self, actor: dict | None) -> None:
        row = check_actor(self.store, actor)
        if row is not None and row["role"] != "staff":
            raise InvalidInput(
                "actor",
                N_("Réservé aux salariés du centre."),
                "only an active staff member may manage people",
            )

    def _matching(self, pin: str, except_id: str | None = None) -> dict | None:
        """The active person whose PIN this is, if any. One scrypt per person
        tried, so the most recent users are tried first: the volunteer at the
        desk today costs one hash, not one per person on the list."""
        people = self.store.query(
            "SELECT id, name, role, pin_salt, pin_hash, pin_params FROM staff WHERE active = 1 "
            "ORDER BY last_login_at IS NULL, last_login_at DESC"
        )
        for person in people:
            if person["id"] == except_id:
                continue
            candidate = hash_pin(pin, person["pin_salt"], person["pin_params"])
            if hmac.compare_digest(candidate, person["pin_hash"]):
                return {"id": person["id"], "name": person["name"], "role": person["role"]}
        return None

    def _refuse_shared_pin(self, pin: str, except_id: str | None, field: str = "pin") -> None:
        if self._matching(pin, except_id):
            raise Conflict(
                field,
                N_("Ce code est déjà pris : choisissez-en un autre."),
                "another active person has this PIN",
            )

    # ------------------------------------------------------------ PIN entry

    def authenticate(self, pin: str) -> dict:
        """{id, name, role} of the PIN's owner. InvalidInput for a wrong PIN,
        Locked(retry_after) while the kiosk is locked."""
        locking = self._count_attempt()
        person = self._matching(pin) if isinstance(pin, str) and pin.isdigit() else None
        with self.store.transaction():
            if person:
                self._save_attempts(0, 0, None)
                self.store.db.table("staff").update(person["id"], {"last_login_at": self.store.now_iso()})
                self.store.audit(person, "staff.login", role=person["role"])
                return person
            if locking:
                self.store.audit(None, "staff.pin_locked", seconds=locking[0], lockouts=locking[1])
        if locking:
            raise Locked(locking[0])
        raise InvalidInput("pin", N_("Code incorrect."), "wrong PIN")

    def _count_attempt(self) -> tuple[int, int] | None:
        """Count this attempt as failed before its PIN is tested (a right PIN
        resets the count afterwards), or raise Locked. The attempt that
        reaches the limit sets the lock itself, so those made at the same
        moment find it set; its (seconds, lockouts) are returned, None for
        an attempt that does not lock."""
        with self.store.transaction():
            state = self._attempts()
            if state["locked_until"] and parse_utc(state["locked_until"]) > self.store.now():
                raise Locked((parse_utc(state["locked_until"]) - self.store.now()).total_seconds())
            failures = state["failures"] + 1
            if failures < MAX_FAILURES:
                self._save_attempts(failures, state["lockouts"], state["locked_until"])
                return None
            lockouts = state["lockouts"] + 1
            delay = lock_delay(lockouts)
            self._save_attempts(0, lockouts, utc_iso(self.store.now() + timedelta(seconds=delay)))
            return delay, lockouts

    def lock_remaining(self) -> float:
        """Seconds until the PIN pad unlocks (0 when it is not locked)."""
        row = self._attempts()
        if not row["locked_until"]:
            return 0.0
        return max(0.0, (parse_utc(row["locked_until"]) - self.store.now()).total_seconds())

    def _attempts(self) -> dict:
        row = self.store.one("SELECT failures, lockouts, locked_until FROM pin_attempts WHERE id = 1")
        return row or {"failures": 0, "lockouts": 0, "locked_until": None}

    def _save_attempts(self, failures: int, lockouts: int, locked_until: str | None) -> None:
        self.store.conn.execute(
            "INSERT INTO pin_attempts (id, failures, lockouts, locked_until) VALUES (1, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET failures = excluded.failures, "
            "lockouts = excluded.lockouts, locked_until = excluded.locked_until",
            (failures, lockouts, locked_until),
        )

    # ------------------------------------------------------------ audit

    def audit_log(self, limit: int = 200, offset: int = 0) -> builtins.list[dict]:
        """What was done in the PIN modes, newest first by when it was done
        (lines arrive from the centre's other devices after the fact): at,
        actor_id, actor_name, action, detail (a dict), device (the replica
        id of the device that wrote it; None: this one) and device_label
        (that device's label, when this device knows it)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidInput("limit", N_("Valeur invalide."), "must be from 1 to 1000", value=limit)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidInput("offset", N_("Valeur invalide."), "must be 0 or more", value=offset)
        rows = self.store.query(
            "SELECT seq, at, actor_id, actor_name, action, detail, device, "
            "(SELECT label FROM replication_peers p WHERE p.replica_id = a.device LIMIT 1) AS device_label "
            "FROM audit_log a ORDER BY at DESC, seq DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        for row in rows:
            row["detail"] = json.loads(row["detail"])
        return rows
