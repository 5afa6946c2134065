"""A small hub database with known projections, for the report, export and
dashboard tests. The expected figures are worked out by hand in the comments
(period: March 2026, "now" 31 March 2026 at 10:00 UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from federation import ages, projections, store, taxonomies
from sync.protocol import utc_iso

NOW = datetime(2026, 3, 31, 10, 0, tzinfo=UTC)
MARCH = (date(2026, 3, 1), date(2026, 3, 31))

A, B, C, D = (f"0190000{n}-0000-7000-8000-000000000000" for n in "abcd")
CENTRE_NAMES = {
    A: "Centre social Les Tilleuls",
    B: "Maison pour tous Bellevue",
    C: "Centre Arc-en-ciel",
    D: "Espace Jean-Jaurès",
}


def uid(n: int) -> str:
    return f"01900000-0000-7000-8000-{n:012d}"


M1, M2, M3, M4, M5 = (uid(n) for n in range(101, 106))
H1 = uid(150)  # a household
W1, W2 = uid(201), uid(202)
S1, S2, S3, S4, S5 = (uid(n) for n in range(301, 306))
AS_OF = "2026-03-31T09:00:00.000Z"


def seed(engine: sa.Engine, now: datetime = NOW) -> None:
    """Fill the projections; device sync times are relative to ``now`` so the
    silent-centre warning holds whatever the day (the web tests use the real now)."""
    with engine.begin() as conn:
        _centres_and_devices(conn, now)
        _visits(conn)
        _members(conn)
        _workshops(conn)
        _voice(conn)
        _volunteering(conn)
        _outreach(conn)
        # the rollups ingest would have kept, from the projections just filled
        projections.refresh_rollups(conn)


def _centres_and_devices(conn, now: datetime) -> None:
    conn.execute(
        store.centres.insert(),
        [
            {"id": cid, "name": name, "created_at": "2025-01-01T00:00:00.000Z"}
            for cid, name in CENTRE_NAMES.items()
        ],
    )
    ago = lambda **delta: utc_iso(now - timedelta(**delta))  # noqa: E731
    device = lambda n, centre, label, last, revoked=None: {  # noqa: E731
        "id": uid(900 + n),
        "centre_id": centre,
        "label": label,
        "token_hash": f"{n:064d}",
        "enrolled_at": "2025-01-02T00:00:00.000Z",
        "revoked_at": revoked,
        "last_seen_at": last,
        "last_sync_at": last,
    }
    conn.execute(
        store.devices.insert(),
        [
            device(1, A, "Borne de l'accueil", ago(days=1, hours=2)),
            device(2, A, "Ancienne tablette", ago(hours=1), ago(minutes=30)),  # revoked
            device(3, B, "Borne Bellevue", ago(days=6)),  # 6 days: not silent
            device(4, C, "Borne Arc-en-ciel", ago(days=11)),  # 11 days: silent
        ],
    )  # D has no device at all: silent (never synced)
    conn.execute(
        store.conflicts.insert().values(
            centre_id=A,
            event_id=uid(999),
            device_id=uid(901),
            received_at="2026-03-15T12:00:00.000Z",
            body=f'{{"id":"{uid(999)}","type":"visit.recorded"}}',
            content_hash="b" * 64,
            stored_hash="a" * 64,
        )
    )


def _visits(conn) -> None:
    # in March: accueil 7, atelier 4, demarches 3, a code the hub does not know 1 = 15
    # weeks (Mondays): 23 Feb 0 (only 1 March counts), 2 Mar 8, 9 Mar 6, 16 Mar 0, 23 Mar 0, 30 Mar 1
    counts = [
        (A, "2026-03-02", "accueil", "resident", 5),
        (A, "2026-03-02", "demarches", "staff", 3),
        (A, "2026-03-10", "accueil", "volunteer", 2),
        (B, "2026-03-10", "atelier", "staff", 4),
        (B, "2026-03-31", "jardinage", "staff", 1),
        (A, "2026-02-28", "accueil", "resident", 100),
        (B, "2026-04-01", "accueil", "resident", 50),
    ]
    conn.execute(
        store.p_visit_counts.insert(),
        [dict(centre_id=c, day=d, reason=r, recorded_by=by, visits=n) for c, d, r, by, n in counts],
    )
    # the same visits by national category, as ingest adds them up (1.0 visits: their default reason's)
    categories: dict[tuple, int] = {}
    for c, d, r, _by, n in counts:
        key = (c, d, *taxonomies.categories({"reason": r}))
        categories[key] = categories.get(key, 0) + n
    conn.execute(
        store.p_visit_categories.insert(),
        [
            dict(centre_id=c, day=d, cra_theme=cra, domain=domain, visits=n)
            for (c, d, cra, domain), n in categories.items()
        ],
    )
    # the days members came (anonymous visits are counts only); each member's
    # span on p_members is worked out from these once the members are in
    conn.execute(
        store.p_presence.insert(),
        [
            dict(centre_id=c, member_id=m, day=d)
            for c, m, d in [
                (A, M1, "2026-03-02"),
                (A, M1, "2026-03-10"),
                (A, M2, "2026-03-02"),
                (B, M3, "2026-03-10"),
                (B, M4, "2026-02-28"),
            ]
        ],
    )


def _members(conn) -> None:
    # participants in March: A/M1, A/M2, B/M3 (visits); A/M5, B/M4 (present at a session)
    # new in March: M1, M3, M5
    # the years of birth as ingest keeps them: M1 gave 1990; the others' band, counted in 2026
    # one household at A: M1 and M2 (both came in March: one family reached, two people)
    member = lambda c, m, band, gender, qpv, created, erased=None, born=None, household=None: dict(  # noqa: E731
        centre_id=c,
        member_id=m,
        age_band=band,
        gender=gender,
        commune="Lyon",
        neighbourhood=None,
        qpv=qpv,
        created_day=created,
        erased_at=erased,
        as_of=AS_OF,
        household_id=household,
        **dict(
            zip(
                ("born_from", "born_to"),
                (None, None) if erased else ages.born_span(band, born, 2026),
                strict=True,
            )
        ),
    )
    conn.execute(
        store.p_members.insert(),
        [
            member(A, M1, "25-54", "woman", True, "2026-03-02", born=1990, household=H1),
            member(A, M2, "65+", "man", False, "2025-12-01", household=H1),
            member(B, M3, "16-24", "woman", True, "2026-03-10"),
            member(B, M4, "55-64", "man", False, "2026-02-20"),
            member(A, M5, "unknown", None, None, "2026-03-05", "2026-03-20T10:00:00.000Z"),  # erased
        ],
    )


def _workshops(conn) -> None:
    conn.execute(
        store.p_workshops.insert(),
        [
            dict(
                centre_id=A,
                workshop_id=W1,
                title="Atelier numérique",
                theme="numerique",
                place="Salle 2",
                as_of=AS_OF,
            ),
            dict(
                centre_id=B,
                workshop_id=W2,
                title="Café des parents",
                theme="parentalite",
                place=None,
                as_of=AS_OF,
            ),
        ],
    )
    session = lambda c, s, w, starts, cancelled=False: dict(  # noqa: E731
        centre_id=c,
        session_id=s,
        workshop_id=w,
        starts_at=starts,
        ends_at=starts,
        capacity=8,
        cancelled=cancelled,
        as_of=AS_OF,
    )
    conn.execute(
        store.p_sessions.insert(),
        [
            session(A, S1, W1, "2026-03-05T13:00:00.000Z"),
            session(A, S2, W1, "2026-03-12T13:00:00.000Z", cancelled=True),
            session(A, S3, W1, "2026-04-02T13:00:00.000Z"),
            session(B, S4, W2, "2026-03-31T21:30:00.000Z"),  # 23:30 in Paris (CEST): in March
            session(B, S5, W2, "2026-03-31T22:30:00.000Z"),  # 00:30 on 1 April in Paris: out
        ],
    )
    registration = lambda n, c, s, m, status: dict(  # noqa: E731
        centre_id=c, registration_id=uid(500 + n), session_id=s, member_id=m, status=status, as_of=AS_OF
    )
    conn.execute(
        store.p_registrations.insert(),
        [
            registration(1, A, S1, M1, "booked"),
            registration(2, A, S1, M2, "booked"),
            registration(3, A, S1, M5, "booked"),
            registration(4, A, S1, uid(107), "waitlisted"),
            registration(5, A, S1, uid(108), "cancelled"),
            registration(6, A, S2, M1, "booked"),
            registration(7, B, S4, M4, "booked"),
        ],
    )
    attendance = lambda n, c, s, m, present, walk_in=False: dict(  # noqa: E731
        centre_id=c,
        attendance_id=uid(600 + n),
        session_id=s,
        member_id=m,
        present=present,
        walk_in=walk_in,
        as_of=AS_OF,
    )
    # A/W1: 3 present of whom 1 walk-in, 3 booked -> rate 2/3; B/W2: 1 of 1
    conn.execute(
        store.p_attendance.insert(),
        [
            attendance(1, A, S1, M1, True),
            attendance(2, A, S1, M2, False),
            attendance(3, A, S1, M5, True),
            attendance(4, A, S1, None, True, walk_in=True),
            attendance(5, B, S4, M4, True),
            attendance(6, A, S2, M1, True),
        ],
    )


def _voice(conn) -> None:
    """The residents' voice. In March: ideas received 2 (Quartier 1, Famille 1;
    I2 came in February, I4 in April), answered 2 (both Quartier), realised 1,
    supported initiatives 1. Faces in March: Numérique (A/W1) 2 content and 1
    moyen, Parentalité (B/W2) 1 pas content, a session the hub does not know 1
    content (« Autre »); 5 in all, 3 content (60 %); F5 is in April."""
    idea = lambda n, c, theme, received, answered=None, done=None, initiative=None: dict(  # noqa: E731
        centre_id=c,
        idea_id=uid(700 + n),
        theme=theme,
        received_day=received,
        answered_day=answered,
        done_day=done,
        initiative_day=initiative,
        as_of=AS_OF,
    )
    conn.execute(
        store.p_ideas.insert(),
        [
            idea(1, A, "quartier", "2026-03-03", "2026-03-05", "2026-03-20"),
            idea(2, A, "quartier", "2026-02-20", "2026-03-02", None, "2026-03-10"),
            idea(3, B, "famille", "2026-03-15"),
            idea(4, A, "sorties", "2026-04-01"),
        ],
    )
    face = lambda n, c, s, f, day: dict(centre_id=c, feedback_id=uid(800 + n), session_id=s, face=f, day=day)  # noqa: E731
    conn.execute(
        store.p_feedback.insert(),
        [
            face(1, A, S1, "content", "2026-03-05"),
            face(2, A, S1, "moyen", "2026-03-05"),
            face(3, A, S1, "content", "2026-03-06"),
            face(4, B, S4, "pas_content", "2026-03-31"),
            face(5, A, S3, "content", "2026-04-02"),
            face(6, A, uid(399), "content", "2026-03-10"),
        ],
    )


def _volunteering(conn) -> None:
    """Volunteers' time. In March: 3 active volunteers (V1 and V2 in A, V4 in
    B), 18.0 hours: activities 14.0 h by 3 (V1 150 min, V2 600 min closed by
    the kiosk and not checked, V4 90 min), governance 4.0 h by 2 (V1 and V2,
    120 min each). V3's stretch was removed; V1's April stretch is outside.
    Full-time equivalents: 18 ÷ (1607 × 31 ÷ 365) = 0.13."""
    stretch = lambda n, c, who, kind, day, minutes, auto=False, removed=False: dict(  # noqa: E731
        centre_id=c,
        stretch_id=uid(600 + n),
        volunteer_id=uid(650 + who),
        kind=kind,
        day=day,
        minutes=minutes,
        auto_closed=auto,
        removed=removed,
        version=2 if removed else 1,
        as_of=AS_OF,
    )
    conn.execute(
        store.p_volunteering.insert(),
        [
            stretch(1, A, 1, "activity", "2026-03-02", 150),
            stretch(2, A, 1, "governance", "2026-03-05", 120),
            stretch(3, A, 2, "governance", "2026-03-05", 120),
            stretch(4, A, 2, "activity", "2026-03-20", 600, auto=True),
            stretch(5, A, 3, "activity", "2026-03-06", 240, removed=True),
            stretch(6, A, 1, "activity", "2026-04-02", 180),
            stretch(7, B, 4, "activity", "2026-03-10", 90),
        ],
    )


def _outreach(conn) -> None:
    """Events « hors les murs ». In March: 2 held by A (O1 at the Chemin Vert,
    a QPV, with a partner: 3 visits and M6 met there; O2 in Wimereux: 1
    visit); O3 (B) is in April."""
    held = lambda n, c, day, commune, hood, qpv, partner: dict(  # noqa: E731
        centre_id=c,
        outreach_id=uid(900 + n),
        day=day,
        commune=commune,
        neighbourhood=hood,
        qpv=qpv,
        partner_kind=partner,
    )
    conn.execute(
        store.p_outreach.insert(),
        [
            held(1, A, "2026-03-14", "Boulogne-sur-Mer", "Chemin Vert", True, "association"),
            held(2, A, "2026-03-21", "Wimereux", None, False, None),
            held(3, B, "2026-04-04", "Outreau", None, False, None),
        ],
    )
    visit = lambda n, o, day: dict(centre_id=A, visit_id=uid(950 + n), outreach_id=uid(900 + o), day=day)  # noqa: E731
    conn.execute(
        store.p_outreach_visits.insert(),
        [
            visit(1, 1, "2026-03-14"),
            visit(2, 1, "2026-03-14"),
            visit(3, 1, "2026-03-14"),
            visit(4, 2, "2026-03-21"),
        ],
    )
    conn.execute(
        store.p_outreach_members.insert(),
        [dict(centre_id=A, member_id=uid(990), outreach_id=uid(901), day="2026-03-14")],
    )


def make_db(path_or_url, now: datetime = NOW) -> tuple[str, sa.Engine]:
    """A SQLite file at a path, or the given database URL, migrated and seeded."""
    url = str(path_or_url) if "://" in str(path_or_url) else f"sqlite:///{path_or_url}"
    engine = store.open_engine(url)
    seed(engine, now)
    return url, engine


# ---------------------------------------------------------------- the dashboard over HTTP

EMAIL, PASSWORD = "marie@federation.example", "un mot de passe solide"


def hidden_csrf(html: str) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no csrf_token field in the page"
    return found.group(1)


def sign_in(client, email: str = EMAIL, password: str = PASSWORD):
    """Sign in through the real form (GET for its token, then POST); returns the answer."""
    token = hidden_csrf(client.get("/login").text)
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"}
    )
