"""A believable demo centre in the Boulonnais, at any size.

``build(path, members, visits, seed)`` fills a database with members (names
as diverse as the Boulonnais' own), a month of visits over opening hours,
two people to unlock the PIN modes, and the coming week's workshops with
sign-ups, attendance and a full session with its waitlist.

Members and visits are written in bulk (one transaction, ``executemany``),
each row with its outbox event exactly as the services would write them, so
100,000 members and 1,000,000 visits take seconds, not hours. Staff and
workshops go through their services: there are few of them.
"""

from __future__ import annotations

import functools
import json
import random
import uuid
from bisect import bisect
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from kiosk.core import cards, search
from kiosk.core.errors import Conflict
from kiosk.core.members import reported_attributes
from kiosk.core.settings import Settings
from kiosk.core.staff import Staff
from kiosk.core.store import Store
from kiosk.core.text import fold, name_tokens
from kiosk.core.voice import Voice
from kiosk.core.workshops import Workshops
from sync import protocol
from sync.clock import PARIS
from sync.protocol import parse_utc

WOMEN = [
    "Marie",
    "Nathalie",
    "Isabelle",
    "Sylvie",
    "Catherine",
    "Christine",
    "Sandrine",
    "Céline",
    "Aurélie",
    "Émilie",
    "Léa",
    "Chloé",
    "Manon",
    "Camille",
    "Océane",
    "Inès",
    "Jade",
    "Louise",
    "Hélène",
    "Françoise",
    "Monique",
    "Josiane",
    "Brigitte",
    "Ginette",
    "Marie-Thérèse",
    "Bérénice",
    "Éloïse",
    "Maëlys",
    "Aïcha",
    "Fatima",
    "Khadija",
    "Samira",
    "Nadia",
    "Leïla",
    "Yasmina",
    "Malika",
    "Zohra",
    "Hanane",
    "Aminata",
    "Fatoumata",
    "Mariam",
    "Awa",
    "Aïssatou",
    "Grâce",
    "Olena",
    "Natalia",
    "Oksana",
    "Agnieszka",
    "Katarzyna",
    "Ioana",
    "Elif",
    "Zeynep",
    "Ana",
]
MEN = [
    "Jean",
    "Pierre",
    "Michel",
    "Philippe",
    "Alain",
    "Gérard",
    "Bernard",
    "Jacques",
    "Daniel",
    "Patrick",
    "Thierry",
    "Stéphane",
    "Frédéric",
    "Jérôme",
    "Sébastien",
    "Julien",
    "Kévin",
    "Dylan",
    "Théo",
    "Lucas",
    "Hugo",
    "Maxime",
    "Benoît",
    "François",
    "Jean-Pierre",
    "Jean-Marc",
    "Mohamed",
    "Karim",
    "Rachid",
    "Youssef",
    "Mehdi",
    "Bilal",
    "Nordine",
    "Samir",
    "Abdelkader",
    "Mamadou",
    "Moussa",
    "Ibrahima",
    "Ousmane",
    "Seydou",
    "Cheikh",
    "Oleksandr",
    "Dmytro",
    "Andriy",
    "Piotr",
    "Krzysztof",
    "Mihai",
    "Bogdan",
    "Mehmet",
    "Emre",
    "João",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Lefebvre",
    "Leroy",
    "Roux",
    "Fournier",
    "Lambert",
    "Caron",
    "Lemaire",
    "Dupont",
    "Duhamel",
    "Delattre",
    "Lefèvre",
    "Fontaine",
    "Wimet",
    "Delpierre",
    "Boulanger",
    "Vasseur",
    "Lecocq",
    "Dewulf",
    "Vandenbussche",
    "Hénon",
    "Coppin",
    "Baheu",
    "Gournay",
    "Lebrun",
    "Merlin",
    "Sénécal",
    "Crépin",
    "Desvres",
    "Benali",
    "Haddad",
    "Saïdi",
    "Bouzid",
    "Belkacem",
    "Cherif",
    "El Amrani",
    "Ben Youssef",
    "Benmansour",
    "Zerrouki",
    "Hamidi",
    "Ait Ouali",
    "Traoré",
    "Diallo",
    "N'Diaye",
    "Koné",
    "Camara",
    "Sow",
    "Diop",
    "Cissé",
    "Keïta",
    "Mbemba",
    "Kowalski",
    "Nowak",
    "Wiśniewski",
    "Kowalczyk",
    "Wójcik",
    "Shevchenko",
    "Kovalenko",
    "Bondarenko",
    "Popescu",
    "Ionescu",
    "Yılmaz",
    "Demir",
    "Da Silva",
    "Pereira",
    "Gonçalves",
    "Le Gall",
    "Guérin",
    "Lefranc",
]

COMMUNES = {
    "Boulogne-sur-Mer": 52,
    "Outreau": 13,
    "Saint-Martin-Boulogne": 10,
    "Le Portel": 9,
    "Wimereux": 4,
    "Saint-Léonard": 4,
    "Équihen-Plage": 2,
    "Wimille": 2,
    "Pont-de-Briques": 1,
    "Autre commune": 3,
}
REASONS = {
    "accueil": 30,
    "demarches": 22,
    "rendez_vous": 12,
    "atelier": 10,
    "ordinateur": 14,
    "permanence": 7,
    "autre": 5,
}
#: opening hours (Paris): weekday -> [(start, end)] in minutes since midnight
OPENING = {day: [(9 * 60, 12 * 60), (13 * 60 + 30, 17 * 60 + 30)] for day in range(5)}
OPENING[5] = [(9 * 60, 12 * 60)]

STAFF = [("Claire Martin", "staff", "1234"), ("Karim Haddad", "volunteer", "5678")]


def _uuid7(ms: int, rng: random.Random) -> str:
    """A time-ordered id at ``ms`` (the thing's own time), laid out as
    protocol.new_id's; formatted by hand because a million uuid.UUID objects
    take seconds."""
    rand = rng.getrandbits(74)
    value = (
        (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0b10 << 62 | (rand & ((1 << 62) - 1))
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_DAYS: dict[int, str] = {}


def _iso_ms(ms: int) -> str:
    """protocol.utc_iso of a Unix time in ms, with the date part cached."""
    seconds, milli = divmod(ms, 1000)
    day, second = divmod(seconds, 86_400)
    if day not in _DAYS:
        _DAYS[day] = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")
    hour, rest = divmod(second, 3600)
    return f"{_DAYS[day]}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}.{milli:03d}Z"


def _event_row(kind: str, event_id: str, occurred_at: str, data_json: str) -> tuple:
    """An outbox row; ``data_json`` is the data already in canonical form."""
    body = f'{{"data":{data_json},"id":"{event_id}","occurred_at":"{occurred_at}","type":"{kind}"}}'
    return event_id, kind, occurred_at, body


def _card_code(rng: random.Random, taken: set[str]) -> str:
    while True:
        bits = rng.getrandbits(5 * (cards.LENGTH - 1))
        payload = "".join(cards.ALPHABET[(bits >> (5 * i)) & 31] for i in range(cards.LENGTH - 1))
        code = payload + cards.check_char(payload)
        if code not in taken:
            taken.add(code)
            return code


# ---------------------------------------------------------------- members


def _place(rng: random.Random, neighbourhoods: list[dict]) -> tuple[str, str | None, bool]:
    commune = rng.choices(list(COMMUNES), weights=list(COMMUNES.values()))[0]
    local = [n for n in neighbourhoods if n["commune"] == commune]
    if local and rng.random() < 0.7:
        chosen = rng.choice(local)
        return commune, chosen["name"], chosen["qpv"]
    return commune, None, False


def _person(
    rng: random.Random,
    member_id: str,
    created: str,
    neighbourhoods: list[dict],
    taken: set[str],
    this_year: int,
) -> dict:
    gender = rng.choices(["woman", "man", "unsaid", "non_binary"], weights=[56, 40, 3, 1])[0]
    first = rng.choice(WOMEN if gender == "woman" or (gender != "man" and rng.random() < 0.5) else MEN)
    last = rng.choice(LAST_NAMES)
    commune, neighbourhood, qpv = _place(rng, neighbourhoods)
    email = None
    if rng.random() < 0.3:
        email = f"{''.join(fold(first).split())}.{''.join(fold(last).split())}@exemple.fr".replace("'", "")
    return {
        "id": member_id,
        "first_name": first,
        "last_name": last,
        "birth_year": None if rng.random() < 0.08 else this_year - int(rng.triangular(16, 92, 38)),
        "age_band": None,
        "age_band_year": None,
        "gender": gender,
        "commune": commune,
        "neighbourhood": neighbourhood,
        "qpv": int(qpv),
        "phone": f"+336{rng.randrange(10**8):08d}" if rng.random() < 0.75 else None,
        "email": email,
        "consent_data": 1,
        "consent_data_at": created,
        "consent_photos": int(rng.random() < 0.5),
        "consent_contact": int(rng.random() < 0.6),
        "card_code": _card_code(rng, taken),
        "created_at": created,
        "updated_at": created,
        "last_seen_at": None,
        "erased_at": None,
        "household_id": None,
        # the FSE+ situation: filled by _situations for those who answered
        "situation_consent_at": None,
        "employment": None,
        "education": None,
    }


def _members(store: Store, rng: random.Random, count: int, before_ms: int) -> list[dict]:
    neighbourhoods = Settings(store).get("neighbourhoods")
    taken = {
        row[0]
        for row in store.conn.execute(
            "SELECT card_code FROM members WHERE card_code IS "
            "NOT NULL UNION SELECT card_code FROM revoked_cards"
        )
    }
    three_years = 3 * 365 * 86_400_000
    stamps = sorted(before_ms - rng.randrange(three_years) for _ in range(count))
    this_year = store.now().year
    return [_person(rng, _uuid7(ms, rng), _iso_ms(ms), neighbourhoods, taken, this_year) for ms in stamps]


#: the share of the members aged 25 to 54 who head a household in the demo
HOUSEHOLD_HEADS = 0.22


def _households(rng: random.Random, people: list[dict], this_year: int) -> int:
    """Link about a third of the members in households of two to five, as
    a centre's families come: an adult of 25 to 54, sometimes a second
    adult, and children of 2 to 17 (their own phone and e-mail none), all
    with the first adult's surname and address. The others are in none.
    One pass over the members in a shuffled order; returns the households."""
    order = list(range(len(people)))
    rng.shuffle(order)
    made, position = 0, 0
    while position < len(order):
        head = people[order[position]]
        position += 1
        year = head["birth_year"]
        if year is None or not 25 <= this_year - year <= 54 or rng.random() > HOUSEHOLD_HEADS:
            continue
        size = rng.choices([2, 3, 4, 5], weights=[35, 30, 25, 10])[0]
        others = [people[i] for i in order[position : position + size - 1]]
        position += len(others)
        if not others:
            break
        household = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        head["household_id"] = household
        for n, person in enumerate(others):
            person.update(
                household_id=household,
                last_name=head["last_name"],
                commune=head["commune"],
                neighbourhood=head["neighbourhood"],
                qpv=head["qpv"],
            )
            if n == 0 and rng.random() < 0.45:  # a second adult
                person["birth_year"] = year + rng.randint(-6, 6)
            else:
                person.update(birth_year=this_year - rng.randint(2, 17), phone=None, email=None)
        made += 1
    return made


#: the share of the members of 16 and over who said yes to the FSE+
#: situation's questions in the demo (its centre asks them)
SITUATION_CONSENT = 0.6
#: how the demo's consenting members answer (sync.protocol's codes, weights)
DEMO_EMPLOYMENT = {"employed": 30, "unemployed": 28, "inactive": 22, "in_education": 12, "unsaid": 8}
DEMO_EDUCATION = {"isced_0_2": 38, "isced_3_4": 35, "isced_5_8": 17, "unsaid": 10}


def _situations(rng: random.Random, people: list[dict], this_year: int) -> int:
    """A share of the members of 16 and over consented to the FSE+
    situation at registration and answered (sometimes one question only);
    returns how many consented."""
    consented = 0
    for person in people:
        year = person["birth_year"]
        if year is None or this_year - year < 16 or rng.random() > SITUATION_CONSENT:
            continue
        consented += 1
        person["situation_consent_at"] = person["created_at"]
        questions = (("employment", DEMO_EMPLOYMENT, 0.95), ("education", DEMO_EDUCATION, 0.9))
        for column, weights, answered in questions:
            if rng.random() < answered:
                person[column] = rng.choices(list(weights), weights=list(weights.values()))[0]
    return consented


# ---------------------------------------------------------------- visits


def _opening_slots(today: date, now_ms: int, days: int = 30) -> tuple[list[tuple[int, int]], list[int]]:
    """The opening hours of the last ``days`` days up to now, as ms spans with
    cumulative lengths (to draw moments uniformly over opening time)."""
    spans, cumulative, total = [], [], 0
    for back in range(days, -1, -1):
        day = today - timedelta(days=back)
        for start, end in OPENING.get(day.weekday(), []):
            begin = datetime.combine(day, time(start // 60, start % 60), tzinfo=PARIS)
            span_start = int(begin.timestamp() * 1000)
            span_end = min(span_start + (end - start) * 60_000, now_ms)
            if span_end > span_start:
                spans.append((span_start, span_end))
                total += span_end - span_start
                cumulative.append(total)
    return spans, cumulative


def _visit_times(rng: random.Random, count: int, today: date, now_ms: int) -> list[int]:
    spans, cumulative = _opening_slots(today, now_ms)
    if not spans:
        return []
    total = cumulative[-1]
    moments = []
    for _ in range(count):
        point = rng.randrange(total)
        index = bisect(cumulative, point)
        start, _end = spans[index]
        moments.append(start + point - (cumulative[index - 1] if index else 0))
    moments.sort()
    return moments


def _visits(rng: random.Random, moments: list[int], people: list[dict], recorders: list[dict]) -> list[tuple]:
    """Visit rows: three in four by a member (a few come very often), the rest
    anonymous; one in five recorded by a volunteer or staff member."""
    count = len(moments)
    activity = [rng.expovariate(1.0) ** 2 for _ in people]
    members = [person["id"] for person in people] + [None]
    # the None at the end is the anonymous visitor, a quarter of all visits
    weights = activity + [sum(activity) / 3 if people else 1.0]
    who = rng.choices(members, weights=weights, k=count)
    reasons = rng.choices(list(REASONS), weights=list(REASONS.values()), k=count)
    by = [("resident", None)] + [(person["role"], person["id"]) for person in recorders]
    by_weights = [80] + ([15, 5] if len(recorders) == 2 else [20 / len(recorders)] * len(recorders))
    recorded = rng.choices(by, weights=by_weights, k=count)
    return [(_uuid7(ms, rng), _iso_ms(ms), who[i], reasons[i], *recorded[i]) for i, ms in enumerate(moments)]


def _last_seen(people: list[dict], visit_rows: list[tuple]) -> None:
    by_id = {person["id"]: person for person in people}
    for _id, occurred_at, member_id, *_rest in visit_rows:  # oldest first: the last one wins
        if member_id in by_id:
            by_id[member_id]["last_seen_at"] = occurred_at


# ---------------------------------------------------------------- bulk writing


def _without_indexes(conn, tables: tuple[str, ...]) -> list[str]:
    """Drop the tables' own indexes (rebuilt by one sort each after the
    bulk insert, much faster than a million random index inserts)."""
    marks = ",".join("?" * len(tables))
    saved = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({marks})",
        tables,
    ).fetchall()
    for name, _sql in saved:
        conn.execute(f'DROP INDEX "{name}"')
    return [sql for _name, sql in saved]


_tokens = functools.lru_cache(maxsize=None)(name_tokens)  # names repeat: fold each pair once


def _write_members(store: Store, rng: random.Random, people: list[dict]) -> None:
    conn = store.conn
    if not people:
        return
    columns = list(people[0])
    conn.executemany(
        f"INSERT INTO members ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [tuple(person[c] for c in columns) for person in people],
    )
    tokens, events = [], []
    for person in people:
        seen = person["last_seen_at"] or person["created_at"]
        person_tokens = _tokens(person["first_name"], person["last_name"])
        names = search.names_text(person_tokens)
        tokens += [(token, seen, person["id"], names) for token in person_tokens]
        created = protocol.parse_utc(person["created_at"])
        data = reported_attributes(person, created.date())
        ms = int(created.timestamp() * 1000)
        events.append(
            _event_row("member.created", _uuid7(ms, rng), person["created_at"], protocol.canonical_json(data))
        )
    tokens.sort()  # in key order, the B-tree only ever appends
    conn.executemany("INSERT INTO member_tokens (token, seen, member_id, names) VALUES (?, ?, ?, ?)", tokens)
    search.add_variants(conn, {token for token, _s, _m, _n in tokens})
    _append_events(conn, events)


def _write_visits(store: Store, rng: random.Random, rows: list[tuple]) -> None:
    store.conn.executemany(
        "INSERT INTO visits (id, occurred_at, member_id, reason, recorded_by_role, "
        "recorded_by) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    events = []
    settings = Settings(store)
    # each reason's national categories as a check-in sends them, as JSON (null for none)
    categories = {
        code: tuple(
            "null" if c is None else f'"{c}"' for c in settings.reason_categories(code) or (None, None)
        )
        for code in settings.reason_codes()
    }
    for visit_id, occurred_at, member_id, reason, role, _who in rows:
        member = "null" if member_id is None else f'"{member_id}"'
        cra, domain = categories[reason]
        data = (
            f'{{"cra_theme":{cra},"domain":{domain},"member_id":{member},"reason":"{reason}",'
            f'"recorded_by":"{role}","visit_id":"{visit_id}"}}'
        )
        events.append(
            _event_row(
                "visit.recorded", _uuid7(int(visit_id[:8] + visit_id[9:13], 16), rng), occurred_at, data
            )
        )
    _append_events(store.conn, events)


def _append_events(conn, rows: list[tuple]) -> None:
    """Outbox rows as sync.outbox.append writes them; the first of each kind
    is checked against the protocol, so a drift here fails loudly."""
    checked = set()
    for row in rows:
        if row[1] not in checked:
            event = protocol.validate_event(json.loads(row[3]))
            if protocol.canonical_json(event) != row[3]:
                raise RuntimeError(f"demo {row[1]} event text is not canonical JSON")
            checked.add(row[1])
    conn.executemany("INSERT INTO outbox (event_id, type, occurred_at, body) VALUES (?, ?, ?, ?)", rows)


# ---------------------------------------------------------------- staff and workshops


def _staff(store: Store) -> list[dict]:
    staff = Staff(store)
    people = []
    for name, role, pin in STAFF:
        row = store.one("SELECT id, name, role FROM staff WHERE name = ? AND active = 1", (name,))
        people.append(row or staff.add(name, role, pin))
    return people


CATALOGUE = [
    (
        "Café des parents",
        "parentalite",
        "Échanger entre parents autour d'un café, les enfants jouent à côté.",
        "Claire Martin",
        "Salle du jardin",
        12,
    ),
    (
        "Pas à pas sur internet",
        "numerique",
        "Se servir d'un ordinateur, d'une boîte mail et d'internet.",
        "Karim Haddad",
        "Espace numérique",
        8,
    ),
    (
        "Mes démarches en ligne (CAF, ANTS, Ameli)",
        "e_administration",
        "Créer ses comptes et faire ses démarches, accompagné.",
        "Claire Martin",
        "Bureau 2",
        6,
    ),
    (
        "Français pour tous",
        "education",
        "Parler, lire et écrire le français au quotidien.",
        "Nadia Belkacem",
        "Salle 1",
        10,
    ),
    (
        "Cuisine du monde",
        "pouvoir_d_agir",
        "Chacun apporte une recette de chez soi ; on cuisine et on partage.",
        "Mamadou Diallo",
        "Cuisine partagée",
        10,
    ),
]


def _at(store: Store, moment: datetime):
    """Run service calls as if at ``moment`` (sign-ups before a past session)."""
    store.clock = lambda: moment


def _workshops(store: Store, rng: random.Random, member_ids: list[str], staff: list[dict]) -> dict:
    workshops, real_clock = Workshops(store), store.clock
    now = real_clock()
    made = {"workshops": 0, "sessions": 0, "registrations": 0, "waitlisted": 0}
    created = [
        workshops.create_workshop(title, theme, text, who, place, actor=staff[0])
        for title, theme, text, who, place, _cap in CATALOGUE
    ]
    made["workshops"] = len(created)
    today = now.astimezone(PARIS).date()
    try:
        for offset in range(-3, 7):
            day = today + timedelta(days=offset)
            if day.weekday() == 6:
                continue
            for slot, hour in enumerate((10, 14)):
                index = (offset * 2 + slot) % len(CATALOGUE)
                start = datetime.combine(day, time(hour), tzinfo=PARIS).astimezone(UTC)
                full = made["waitlisted"] == 0 and start > now and index == 1
                _session(
                    workshops,
                    store,
                    rng,
                    created[index],
                    start,
                    CATALOGUE[index][5],
                    full,
                    member_ids,
                    staff,
                    made,
                )
    finally:
        store.clock = real_clock
    return made


def _session(
    workshops: Workshops,
    store: Store,
    rng: random.Random,
    workshop: dict,
    start: datetime,
    capacity: int,
    full: bool,
    member_ids: list[str],
    staff: list[dict],
    made: dict,
) -> None:
    now = store.clock()
    _at(store, min(now, start - timedelta(days=3)))
    session = workshops.add_session(
        workshop["id"], start, start + timedelta(hours=2), capacity, actor=staff[0]
    )
    made["sessions"] += 1
    wanted = capacity + 3 if full else rng.randint(capacity // 3, capacity)
    for member_id in rng.sample(member_ids, min(wanted, len(member_ids))):
        result = workshops.register(session["id"], member_id, actor=staff[-1])
        made["registrations"] += 1
        made["waitlisted"] += result["status"] == "waitlisted"
    if start < now:  # the roll call of a past session, with a walk-in
        _at(store, start + timedelta(hours=2, minutes=5))
        for row in workshops.roll_call(session["id"]):
            workshops.mark_attendance(session["id"], row["member_id"], rng.random() < 0.8, actor=staff[-1])
        workshops.add_walk_in(session["id"], None, actor=staff[-1])
    _at(store, now)


# ---------------------------------------------------------------- the residents' voice

#: (theme, words, days ago, a contact left, answer, realised, supported initiative)
IDEAS = [
    (
        "sorties",
        "Une sortie à la mer cet été, avec les enfants",
        27,
        True,
        "Une sortie à Berck le samedi 11 juillet : inscriptions à l'accueil",
        True,
        False,
    ),
    (
        "activites",
        "Un atelier couture pour réparer nos vêtements",
        24,
        False,
        "L'atelier couture commence le mardi matin",
        True,
        False,
    ),
    (
        "quartier",
        "Des jardinières devant les immeubles de la rue des Lilas",
        21,
        True,
        "Des habitants préparent les jardinières avec le bailleur : venez le jeudi",
        False,
        True,
    ),
    (
        "numerique",
        "Apprendre à faire les visios avec la famille au pays",
        18,
        False,
        "Un atelier visio est ajouté dans « Pas à pas sur internet »",
        True,
        False,
    ),
    ("famille", "Un temps pour les papas le samedi", 15, False, None, False, False),
    ("autre", "Plus de chaises dans la salle d'attente", 12, False, "C'est fait, merci !", True, False),
    (
        "quartier",
        "Une fête des voisins au square",
        9,
        True,
        "Bonne idée : un groupe d'habitants l'organise, le centre prête le matériel",
        False,
        True,
    ),
    ("activites", "Du sport doux pour les personnes âgées", 6, False, None, False, False),
    ("sorties", "Aller au musée du Louvre-Lens", 4, False, None, False, False),
    ("famille", "Aide aux devoirs le mercredi", 2, True, None, False, False),
    ("numerique", "", 1, False, None, False, False),  # a few taps, no words
]
#: the faces present members give, and how often
FACES = (("content", 0.7), ("moyen", 0.2), ("pas_content", 0.1))
DEMO_PHONE = "06 00 00 00 00"


def _voice(store: Store, rng: random.Random, people: list[dict], staff: list[dict]) -> dict:
    """The idea box's ideas of the last month, answered as a centre would,
    and the faces after the sessions held."""
    voice, real_clock = Voice(store), store.clock
    now = real_clock()
    boss = next(person for person in staff if person["role"] == "staff")
    made = {"ideas": 0, "faces": 0}
    try:
        for theme, words, days, contact, answer, done, initiative in IDEAS:
            received = now - timedelta(days=days, hours=rng.randint(0, 6))
            _at(store, received)
            who = rng.choice(people) if contact and people else None
            idea = voice.propose(
                theme,
                words,
                first_name=who["first_name"] if who else None,
                phone=DEMO_PHONE if who else None,
                consent=who is not None,
            )
            made["ideas"] += 1
            if answer:
                _at(store, received + timedelta(days=2))
                voice.answer(idea["id"], answer, boss)
            if done:
                _at(store, received + timedelta(days=min(days - 1, 10)))
                voice.mark_done(idea["id"], boss)
            if initiative:
                _at(store, received + timedelta(days=3))
                voice.mark_initiative(idea["id"], boss)
        held = store.query(
            "SELECT DISTINCT a.session_id, a.member_id, s.ends_at FROM attendance a "
            "JOIN sessions s ON s.id = a.session_id WHERE a.present = 1 AND s.ends_at <= ?",
            (store.now_iso(),),
        )
        for row in held:
            if rng.random() > 0.6:  # not everyone answers
                continue
            face = rng.choices([f for f, _w in FACES], [w for _f, w in FACES])[0]
            _at(store, parse_utc(row["ends_at"]) + timedelta(minutes=10))
            via = "roll_call" if row["member_id"] is None else rng.choice(("roll_call", "checkin"))
            try:
                voice.give_feedback(row["session_id"], face, member_id=row["member_id"], via=via)
            except Conflict:  # the walk-ins without a name answered already
                continue
            made["faces"] += 1
    finally:
        store.clock = real_clock
    return made


# ---------------------------------------------------------------- the whole centre


def _bulk_write(store: Store, rng: random.Random, people: list[dict], visit_rows: list[tuple]) -> None:
    """Members and visits with their events, in one transaction."""
    conn = store.conn
    fresh = (
        conn.execute("SELECT (SELECT count(*) FROM members) + (SELECT count(*) FROM visits)").fetchone()[0]
        == 0
    )
    if fresh:
        # A new file: a rollback journal writes the pages once, where WAL
        # would write them twice (log, then checkpoint). Still all-or-nothing.
        conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA cache_size = -262144")  # 256 MiB while building
    # every row refers to one built just before: checking a million foreign
    # keys one by one would only double the time (tests/test_demo.py checks them)
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        with store.transaction():
            search.refresh_recency(conn)  # visits checked in before this filling keep counting
            indexes = _without_indexes(conn, ("visits", "member_tokens", "outbox"))
            _write_members(store, rng, people)
            _write_visits(store, rng, visit_rows)
            search.mark_recency_applied(conn)  # _last_seen worked out the new members' last contact
            for sql in indexes:
                conn.execute(sql)
        conn.execute("ANALYZE")
    finally:
        conn.execute("PRAGMA cache_size = -2000")
        conn.execute("PRAGMA foreign_keys = ON")
        if fresh:
            conn.execute("PRAGMA journal_mode = WAL")


def build(path: str | Path, members: int = 300, visits: int = 2000, seed: int = 1) -> str:
    """Fill the database at ``path`` (created if need be); returns a summary to print."""
    if members < 0 or visits < 0:
        raise ValueError("members and visits must not be negative")
    rng = random.Random(seed)
    with Store.open(path) as store:
        settings = Settings(store)
        if settings.get("centre_name") == "Centre social":
            settings.set("centre_name", "Centre social du Chemin Vert (démo)")
        staff = _staff(store)
        now = store.now()
        now_ms = int(now.timestamp() * 1000)
        month_ago = now_ms - 31 * 86_400_000
        # the itinerant events' new members and visits are part of those asked for
        away = store.one("SELECT 1 AS found FROM outreach_events") is None and _outreach_fits(members, visits)
        people = _members(store, rng, members - OUTREACH_MEMBERS * away, month_ago)
        # a generator of its own: the rest of the demo stays what the seed made before households
        households = _households(random.Random(seed * 7919 + 15), people, now.year)
        # the demo centre runs an FSE+-funded action: it asks the situation
        settings.set("collect_situation", True)
        situations = _situations(random.Random(seed * 6131 + 7), people, now.year)
        moments = _visit_times(rng, visits - OUTREACH_VISITS * away, now.astimezone(PARIS).date(), now_ms)
        visit_rows = _visits(rng, moments, people, staff)
        _last_seen(people, visit_rows)
        _bulk_write(store, rng, people, visit_rows)
        ids = [person["id"] for person in people] or [
            row["id"] for row in store.query("SELECT id FROM members WHERE erased_at IS NULL LIMIT 1000")
        ]
        made = {"workshops": 0, "sessions": 0, "registrations": 0, "waitlisted": 0}
        if ids and store.one("SELECT 1 AS found FROM workshops") is None:  # filling again adds none
            made = _workshops(store, rng, ids, staff)
        if people and store.one("SELECT 1 AS found FROM ideas") is None:
            made.update(_voice(store, rng, people, staff))
        made["households"] = households
        made["situations"] = situations
        if store.one("SELECT 1 AS found FROM volunteer_stretches") is None:
            # a generator of its own, like the households': the rest stays what the seed made
            made["volunteer_hours"] = _volunteering(store, random.Random(seed * 104_729 + 3), staff)
        if people and away:
            # a generator of its own, like the households': the rest stays what the seed made
            made["outreach"] = _outreach(store, random.Random(seed * 7_877 + 5), people, staff)
        held = (OUTREACH_MEMBERS, OUTREACH_VISITS) if made.get("outreach") else (0, 0)
        return _summary(store, path, len(people) + held[0], len(visit_rows) + held[1], made)


# ---------------------------------------------------------------- the itinerant mode

#: the demo's events « hors les murs »: (days ago, name, place, neighbourhood,
#: commune, partner, partner kind, visits, new members)
OUTREACH = [
    (
        9,
        "Fête de quartier du Chemin Vert",
        "Square du Chemin Vert",
        "Chemin Vert",
        None,
        "Habitat du Littoral",
        "social_landlord",
        14,
        3,
    ),
    (
        23,
        "Café des parents",
        "Devant l'école Jules Ferry",
        None,
        "Le Portel",
        "École Jules Ferry",
        "school",
        8,
        2,
    ),
]
#: the members and visits the events add to the centre
OUTREACH_MEMBERS = sum(row[8] for row in OUTREACH)
OUTREACH_VISITS = sum(row[7] for row in OUTREACH)


def _outreach_fits(members: int, visits: int) -> bool:
    """A demo large enough to hold the itinerant events among the members
    and visits asked for (a small one for a test holds none)."""
    return members >= 10 * OUTREACH_MEMBERS and visits >= 10 * OUTREACH_VISITS


#: the residents first met at those events (first name, last name, birth year)
OUTREACH_PEOPLE = [
    ("Inès", "Haddou", 1991),
    ("Bruno", "Lemaire", 1958),
    ("Soraya", "Mekki", 2001),
    ("Kevin", "Delattre", 1987),
    ("Fatou", "Sarr", 1979),
]


def _outreach(store: Store, rng: random.Random, people: list[dict], staff: list[dict]) -> int:
    """Two afternoons « hors les murs » through the services (each visit and
    new member carries its event, as on a real day), each ended by itself at
    the end of its day. Returns the events held."""
    from kiosk.core.members import Members
    from kiosk.core.outreach import Outreach
    from kiosk.core.visits import Visits

    settings = Settings(store)
    events, visits, members = Outreach(store, settings), Visits(store, settings), Members(store, settings)
    manager = next(person for person in staff if person["role"] == "staff")
    real_clock = store.clock
    today = real_clock().astimezone(PARIS).date()
    newcomers = iter(OUTREACH_PEOPLE)
    try:
        # the oldest first: each ends by itself before the next day's begins
        for days, name, place, neighbourhood, commune, partner, kind, visit_count, new in sorted(
            OUTREACH, reverse=True
        ):
            moment = datetime.combine(today - timedelta(days=days), time(14, 0), tzinfo=PARIS).astimezone(UTC)
            _at(store, moment)
            event = events.start(name, place, None, neighbourhood, commune, partner, kind, actor=manager)
            for _ in range(new):
                first, last, year = next(newcomers)
                moment += timedelta(minutes=rng.randint(3, 12))
                _at(store, moment)
                member = members.register(
                    first,
                    last,
                    birth_year=year,
                    commune=event["commune"],
                    neighbourhood=event["neighbourhood"],
                    consent_data=True,
                    actor=manager,
                )
                visits.check_in("accueil", member_id=member["id"], actor=manager)
            for _ in range(visit_count - new):
                moment += timedelta(minutes=rng.randint(3, 12))
                _at(store, moment)
                who = rng.choice(people) if rng.random() < 0.5 else None
                visits.check_in("accueil", member_id=who["id"] if who else None, actor=manager)
    finally:
        store.clock = real_clock
    events.active()  # today: the last event ended by itself at the end of its day
    search.refresh_recency(store.conn)  # the members' last contact, with these visits
    return len(OUTREACH)


# ---------------------------------------------------------------- volunteers' time

#: the demo's volunteers besides STAFF's (name, PIN), each with their weekly
#: stretches of activity: (weekday, start hour, start minute, minutes)
VOLUNTEERS = [("Nadia Belkacem", "1470"), ("Mamadou Diallo", "3690"), ("Josiane Lefebvre", "2580")]
WEEKLY = {
    "Karim Haddad": [(1, 14, 0, 180), (3, 14, 0, 180)],  # the digital space, Tuesday and Thursday
    "Nadia Belkacem": [(0, 9, 30, 120), (2, 9, 30, 120)],  # « Français pour tous »
    "Mamadou Diallo": [(4, 10, 0, 195)],  # « Cuisine du monde », shopping and cooking
    "Josiane Lefebvre": [(2, 14, 0, 150)],  # the homework club
}
#: who sits on the board (conseil d'administration, first Thursday of the
#: month, 18:00-20:30) and on a commission (every other Monday, two hours)
BOARD = ("Josiane Lefebvre", "Karim Haddad", "Mamadou Diallo")
COMMISSION = ("Josiane Lefebvre", "Nadia Belkacem")
VOLUNTEERING_WEEKS = 12


def _volunteering(store: Store, rng: random.Random, staff: list[dict]) -> int:
    """Twelve weeks of volunteers' time, entered afterwards by the staff
    member (kiosk.core.volunteering, so each stretch has its event), and a
    « Je termine » forgotten yesterday, closed by itself and to check.
    Returns the hours entered."""
    from kiosk.core.volunteering import Volunteering

    people = Staff(store)
    manager = next(person for person in staff if person["role"] == "staff")
    volunteers = {person["name"]: person for person in staff if person["role"] == "volunteer"}
    for name, pin in VOLUNTEERS:
        row = store.one("SELECT id, name, role FROM staff WHERE name = ? AND active = 1", (name,))
        volunteers[name] = row or people.add(name, "volunteer", pin)
    service, real_clock = Volunteering(store), store.clock
    today = real_clock().astimezone(PARIS).date()
    minutes = 0
    try:
        for back in range(VOLUNTEERING_WEEKS * 7, 0, -1):
            day = today - timedelta(days=back)
            # (volunteer, kind, start or None for a duration alone, minutes)
            stretches: list[tuple[str, str, time | None, int]] = [
                (name, "activity", time(hour, minute), length)
                for name, slots in WEEKLY.items()
                for weekday, hour, minute, length in slots
                if weekday == day.weekday() and name in volunteers and rng.random() < 0.85
            ]
            if day.weekday() == 3 and day.day <= 7:
                stretches += [(name, "governance", time(18, 0), 150) for name in BOARD]
            if day.weekday() == 0 and day.isocalendar().week % 2 == 0:
                stretches += [(name, "governance", None, 120) for name in COMMISSION]
            _at(store, datetime.combine(day, time(21, 0), tzinfo=PARIS).astimezone(UTC))
            for name, kind, start, length in stretches:
                if start is None:  # a commission's two hours, entered as a duration
                    service.enter(manager, volunteers[name]["id"], kind, day, minutes=length)
                else:
                    end = (datetime.combine(day, start) + timedelta(minutes=length)).time()
                    service.enter(manager, volunteers[name]["id"], kind, day, start, end)
                minutes += length
        # yesterday at two, Karim began and forgot to end: it closes itself today
        yesterday = datetime.combine(today - timedelta(days=1), time(14, 0), tzinfo=PARIS)
        _at(store, yesterday.astimezone(UTC))
        try:
            service.start(volunteers["Karim Haddad"], "activity")
        except Conflict:  # hours entered for him then already
            pass
    finally:
        store.clock = real_clock
    service.close_forgotten()
    return minutes // 60


def _summary(store: Store, path, members: int, visits: int, made: dict) -> str:
    pins = " · ".join(f"{name} ({role}) PIN {pin}" for name, role, pin in STAFF)
    return "\n".join(
        [
            f"Demo centre written to {path}",
            f"  {members} members, {visits} visits over the last month",
            f"  {made.get('households', 0)} households of two to five members",
            f"  {made.get('situations', 0)} members gave their FSE+ situation (with their consent)",
            f"  {made['workshops']} workshops, {made['sessions']} sessions around this week, "
            f"{made['registrations']} sign-ups ({made['waitlisted']} on a waitlist)",
            f"  {made.get('ideas', 0)} ideas in the idea box, "
            f"{made.get('faces', 0)} faces after the workshops",
            f"  {made.get('volunteer_hours', 0)} hours of volunteers' time over "
            f"{VOLUNTEERING_WEEKS} weeks, one « Je termine » forgotten (« À vérifier »)",
            f"  {made.get('outreach', 0)} events « hors les murs » with their visits and new members",
            f"  {store.conn.execute('SELECT count(*) FROM outbox').fetchone()[0]} events in the outbox",
            f"  PIN modes: {pins}",
        ]
    )
