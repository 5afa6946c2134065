"""A small, known centre written straight into the schema, for the tests of
exports, the PDF summary, cards and backups (they read what the services
write; inserting rows keeps these tests about the reading)."""

from __future__ import annotations

import uuid

from kiosk.core.store import Store

STAFF_ID = "0190aaaa-0000-7000-8000-000000000001"
AICHA = "0190aaaa-0000-7000-8000-0000000000a1"
JEAN = "0190aaaa-0000-7000-8000-0000000000b2"
MALLORY = "0190aaaa-0000-7000-8000-0000000000c3"
ERASED = "0190aaaa-0000-7000-8000-0000000000d4"
WORKSHOP = "0190aaaa-0000-7000-8000-0000000000e5"
SESSION_1 = "0190aaaa-0000-7000-8000-0000000000f1"
SESSION_2 = "0190aaaa-0000-7000-8000-0000000000f2"
SESSION_LATER = "0190aaaa-0000-7000-8000-0000000000f3"


def _id() -> str:
    return str(uuid.uuid4())


def member(
    store: Store,
    id: str,
    first: str,
    last: str,
    *,
    birth_year=1980,
    gender="woman",
    commune="Boulogne-sur-Mer",
    neighbourhood=None,
    qpv=False,
    card=None,
    created="2026-11-02T09:00:00.000Z",
    erased=None,
    phone=None,
    email=None,
) -> None:
    store.conn.execute(
        "INSERT INTO members (id, first_name, last_name, birth_year, gender, commune, neighbourhood, "
        "qpv, phone, email, consent_data, consent_data_at, consent_photos, consent_contact, card_code, "
        "created_at, updated_at, erased_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, 0, 1, ?, ?, ?, ?)",
        (
            id,
            first,
            last,
            birth_year,
            gender,
            commune,
            neighbourhood,
            int(qpv),
            phone,
            email,
            created,
            card,
            created,
            created,
            erased,
        ),
    )


def visit(store: Store, at: str, member_id=None, reason="demarches", role="resident", by=None) -> str:
    visit_id = _id()
    store.conn.execute(
        "INSERT INTO visits (id, occurred_at, member_id, reason, recorded_by_role, recorded_by) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (visit_id, at, member_id, reason, role, by),
    )
    return visit_id


def fill(store: Store) -> None:
    """Members, visits around a December period's edges, one workshop with
    three sessions, registrations and marks."""
    with store.transaction():
        store.conn.execute(
            "INSERT INTO staff (id, name, role, pin_salt, pin_hash, pin_params, created_at, updated_at) "
            "VALUES (?, 'Nadia Ferhat', 'staff', x'00', x'00', 'scrypt:n=2,r=1,p=1', "
            "'2026-11-01T08:00:00.000Z', '2026-11-01T08:00:00.000Z')",
            (STAFF_ID,),
        )
        member(
            store,
            AICHA,
            "Aïcha",
            "Benali",
            birth_year=1958,
            neighbourhood="Transition",
            qpv=True,
            card="K7QM3XPD",
            created="2026-12-01T09:00:00.000Z",
            phone="06 12 34 56 78",
        )
        member(
            store,
            JEAN,
            "Jean-Noël",
            "Dupont; Lefèvre",
            birth_year=2004,
            gender="man",
            card="H4Z22XXA",
            email="jn@example.fr",
        )
        member(
            store,
            MALLORY,
            '=HYPERLINK("x")',
            "Test",
            birth_year=None,
            gender=None,
            card="MMMM2345",
            created="2026-12-10T10:00:00.000Z",
        )
        member(
            store,
            ERASED,
            None,
            None,
            birth_year=None,
            gender=None,
            commune=None,
            card=None,
            erased="2026-11-20T10:00:00.000Z",
        )
        # 30/11 23:30 Paris is before a period starting 01/12
        visit(store, "2026-11-30T22:30:00.000Z", AICHA, "accueil")
        # 01/12 00:10 Paris (still 30/11 in UTC) is inside it
        visit(store, "2026-11-30T23:10:00.000Z", AICHA, "demarches")
        visit(store, "2026-12-03T14:05:00.000Z", JEAN, "ordinateur", role="volunteer", by=STAFF_ID)
        visit(store, "2026-12-09T09:00:00.000Z", None, "accueil", role="staff", by=STAFF_ID)
        visit(store, "2026-12-09T10:00:00.000Z", ERASED, "permanence")
        # 31/12 23:59 Paris is the period's last minute; 01/01 00:01 is past it
        visit(store, "2026-12-31T22:59:00.000Z", MALLORY, "demarches")
        visit(store, "2026-12-31T23:01:00.000Z", JEAN, "demarches")
        store.conn.execute(
            "INSERT INTO workshops (id, title, theme, description, "
            "facilitator, place, created_at, updated_at) "
            "VALUES (?, 'Atelier numérique : « e-mail »', 'numerique', '', 'Karim', 'Salle 2', "
            "'2026-11-01T08:00:00.000Z', '2026-11-01T08:00:00.000Z')",
            (WORKSHOP,),
        )
        for sid, starts, cancelled in (
            (SESSION_1, "2026-12-02T13:00:00.000Z", None),
            (SESSION_2, "2026-12-16T13:00:00.000Z", "2026-12-10T09:00:00.000Z"),
            (SESSION_LATER, "2027-01-06T13:00:00.000Z", None),
        ):
            store.conn.execute(
                "INSERT INTO sessions (id, workshop_id, starts_at, ends_at, capacity, place, cancelled_at, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, 8, NULL, ?, ?, ?)",
                (sid, WORKSHOP, starts, starts.replace("T13", "T15"), cancelled, starts, starts),
            )
        for seq, (mid, status) in enumerate(((AICHA, "booked"), (JEAN, "booked"), (MALLORY, "waitlisted"))):
            store.conn.execute(
                "INSERT INTO registrations (id, session_id, member_id, status, queue_seq, queued_at, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _id(),
                    SESSION_1,
                    mid,
                    status,
                    seq,
                    "2026-11-25T10:00:00.000Z",
                    "2026-11-25T10:00:00.000Z",
                    "2026-11-25T10:00:00.000Z",
                ),
            )
        marks = ((AICHA, 1, 0), (JEAN, 0, 0), (None, 1, 1), (ERASED, 1, 1))
        for mid, present, walk_in in marks:
            store.conn.execute(
                "INSERT INTO attendance (id, session_id, member_id, present, walk_in, marked_at, marked_by) "
                "VALUES (?, ?, ?, ?, ?, '2026-12-02T13:10:00.000Z', ?)",
                (_id(), SESSION_1, mid, present, walk_in, STAFF_ID),
            )
