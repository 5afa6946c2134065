"""The worst real content of « Dans les autres centres » and « Demandes
d'autres centres », for the layout test and the screenshots: the other
centres' longest names and titles, a request from another centre and the
answers to requests made here, written straight into a kiosk database."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from kiosk.core.store import Store
from sync import envelope, protocol

OTHER_CENTRE = ("Centre social et culturel intercommunal Marie-Thérèse Vandenbussche du Portel et d'Outreau")[
    :120
]
TITLE = "Accompagnement administratif et numérique : comprendre ses courriers de la CAF et des impôts"[:120]
PLACE = "Salle polyvalente Marie-Thérèse Vandenbussche, bâtiment B, rez-de-chaussée"[:120]
THEMES = ("numerique", "parentalite", "education", "pouvoir_d_agir", "e_administration", "autre")


def fill(store: Store, now: datetime, received_days_ago: int = 2) -> dict:
    """Eight sessions of another centre this week (the first full), a
    request from another centre for a session here, and two requests made
    here (one answered, one waiting). Returns the first agenda entry."""
    received = protocol.utc_iso(now - timedelta(days=received_days_ago))
    other = "01890a5d-ac96-774b-bcce-b30209900001"
    first = None
    with store.transaction():
        for n in range(8):
            starts = now + timedelta(days=1 + n % 6, hours=n)
            key = f"01890a5d-ac96-774b-bcce-b3020990{n:04d}"
            body = {
                "centre_id": other,
                "centre_name": OTHER_CENTRE,
                "title": f"{TITLE} {n}",
                "theme": THEMES[n % len(THEMES)],
                "place": PLACE,
                "commune": "Saint-Étienne-au-Mont",
                "starts_at": protocol.utc_iso(starts),
                "ends_at": protocol.utc_iso(starts + timedelta(hours=2)),
                "seats_left": 0 if n == 0 else 12,
            }
            store.conn.execute(
                "INSERT OR REPLACE INTO federation_feed (kind, key, body, updated_at, received_at) "
                "VALUES ('agenda', ?, ?, ?, ?)",
                (key, json.dumps(body, ensure_ascii=False), received, received),
            )
            first = first or {**body, "session_id": key, "asked": None}
        session = store.conn.execute("SELECT id FROM sessions ORDER BY starts_at DESC LIMIT 1").fetchone()
        store.conn.execute(
            "INSERT OR REPLACE INTO seat_requests_in (id, from_centre, from_centre_name, reply_key, "
            "session_id, first_name, last_name, phone, consent_at, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "01890a5d-ac96-774b-bcce-b30209910001",
                other,
                OTHER_CENTRE,
                envelope.centre_public_key(envelope.Keyring.new()).hex(),
                session[0] if session else other,
                "Marie-Françoise",
                "Wiśniewski-Ait Ouali",
                "+33611223344",
                received,
                received,
            ),
        )
        for n, outcome in enumerate(("accepted", None)):
            store.conn.execute(
                "INSERT OR REPLACE INTO seat_requests_out (id, to_centre, to_centre_name, session_id, title, "
                "place, starts_at, first_name, last_name, phone, consent_at, created_at, outcome) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    f"01890a5d-ac96-774b-bcce-b3020992000{n}",
                    other,
                    OTHER_CENTRE,
                    f"01890a5d-ac96-774b-bcce-b3020990{n + 1:04d}",
                    f"{TITLE} {n + 1}",
                    PLACE,
                    first["starts_at"],
                    "Marie-Thérèse",
                    "Vandenbussche-Delattre",
                    "+33611223344",
                    received,
                    received,
                    outcome,
                ),
            )
        store.conn.execute(
            "INSERT OR REPLACE INTO sync_state (key, value) VALUES ('federation_received_at', ?)", (received,)
        )
    return first
