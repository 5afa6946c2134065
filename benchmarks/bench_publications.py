"""A kiosk pulling the federation's publications from a real hub.

    python benchmarks/bench_publications.py [--centres 50] [--sheets 500]
                                            [--agenda 2000] [--runs 3]

Starts `federation serve` on 127.0.0.1 (SQLite, its defaults), adds
--centres centres and publishes, with ``federation.publications.publish``,
--sheets workshop sheets (French titles, plain-words descriptions of a few
sentences, what to bring, what the animator needs) and --agenda agenda
entries (each centre's coming sessions: title, theme, place, commune, times,
seats left), three messages (translated) and the reasons list. Then, with a
kiosk enrolled the real way (kiosk.syncing.enrol, save_enrolment):

1. **first pull**: a new kiosk takes everything (kiosk.syncing.pull_publications:
   each page fetched gzipped, its signature and every body verified, kept in
   the kiosk's database). Median of --runs new kiosks. Goal: <= 2 s and
   <= 200 kB on the wire.
2. **the next sync**: 10 sheets edited, 60 agenda entries changed (seats
   taken), 40 withdrawn (sessions passed) and 1 message published; the
   kiosk pulls again and gets only those. Time, bytes and counts printed.
3. **nothing new**: the pull after that (a signed page with no item).

Bytes on the wire are the answers' bodies as sent (gzip), from their
Content-Length; the requests' few hundred bytes of headers are not counted.
The figures are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from federation import centres, publications, store  # noqa: E402
from kiosk import syncing  # noqa: E402
from kiosk.core import federation_feed  # noqa: E402
from kiosk.core.settings import Settings  # noqa: E402
from kiosk.core.store import Store  # noqa: E402
from sync import client, protocol  # noqa: E402
from tests.conftest_hub import start_hub  # noqa: E402

COMMUNES = [
    "Boulogne-sur-Mer",
    "Outreau",
    "Le Portel",
    "Saint-Martin-Boulogne",
    "Wimereux",
    "Saint-Léonard",
    "Équihen-Plage",
    "Wimille",
    "Calais",
    "Marquise",
    "Desvres",
    "Samer",
    "Étaples",
    "Berck",
    "Montreuil-sur-Mer",
    "Hesdin",
    "Saint-Omer",
    "Arques",
    "Lumbres",
    "Aire-sur-la-Lys",
]
ACTIVITIES = [
    ("Atelier cuisine du monde", "accueil", "groups"),
    ("Café des parents", "parentalite", "family_restroom"),
    ("Aide aux devoirs", "education", "school"),
    ("Premiers pas sur le smartphone", "numerique", "devices"),
    ("Créer son espace France Travail", "e_administration", "work"),
    ("Jardin partagé", "accueil", "park"),
    ("Couture et retouches", "accueil", "palette"),
    ("Sortie à la mer en famille", "parentalite", "directions_bus"),
    ("Lire des albums avec son enfant", "parentalite", "menu_book"),
    ("Déclarer ses impôts en ligne", "e_administration", "account_balance"),
    ("Conseil citoyen du quartier", "pouvoir_d_agir", "campaign"),
    ("Gym douce pour les seniors", "autre", "groups"),
    ("Théâtre d'improvisation", "pouvoir_d_agir", "celebration"),
    ("Les visios avec la famille", "numerique", "computer"),
    ("Ameli et la carte Vitale", "e_administration", "local_hospital"),
    ("Repair café", "pouvoir_d_agir", "lightbulb"),
    ("Français à l'oral", "education", "school"),
]
SENTENCES = [
    "On se retrouve autour d'une table pour {what}, à son rythme, sans rien savoir d'avance.",
    "L'animatrice montre chaque geste, puis chacun essaie avec son propre matériel.",
    "Les enfants sont les bienvenus avec leurs parents : un coin jeux est prévu à côté.",
    "On repart avec une fiche simple, avec des images, pour refaire seul à la maison.",
    "Chaque séance commence par un café et se termine par un moment pour dire ce qu'on a appris.",
    "Un bénévole du quartier aide les personnes qui lisent ou écrivent difficilement.",
    "Les places sont limitées pour que tout le monde ait le temps de poser ses questions.",
    "L'atelier peut se faire en plusieurs langues selon les personnes présentes.",
    "Pour {what}, on part de ce que les habitants vivent au quotidien, pas d'un cours.",
    "Le groupe choisit ensemble les thèmes des séances suivantes.",
]
BRING = [
    "Son téléphone chargé et ses codes",
    "Un tablier",
    "Ses papiers d'identité",
    "Une clé USB",
    "Des vêtements à retoucher",
    "Rien : tout est fourni",
    "Un carnet et un stylo",
    "Des bottes",
]
NEEDS = [
    "Une salle avec des prises et le wifi",
    "Un vidéoprojecteur",
    "Une cuisine équipée",
    "Six ordinateurs portables",
    "Des tables pour huit personnes",
    "Un accès au jardin",
    "Une machine à coudre par binôme",
    "Des jeux pour les enfants",
]
PLACES = [
    "Salle polyvalente",
    "Salle informatique",
    "Cuisine du centre",
    "Jardin",
    "Salle 2",
    "Médiathèque",
    "Antenne du quartier",
    "Gymnase municipal",
]


def hub_write(engine, action):
    with store.writer(engine) as conn, conn.begin():
        return action(conn)


def sheet_body(rng: random.Random, index: int) -> dict:
    title, theme, icon = rng.choice(ACTIVITIES)
    what = title.lower()
    description = " ".join(s.format(what=what) for s in rng.sample(SENTENCES, rng.randint(3, 5)))
    return {
        "title": f"{title} ({index})",
        "theme": theme,
        "description": description,
        "pictogram": icon,
        "duration_minutes": rng.choice([60, 90, 120, 150, 180]),
        "capacity": rng.randint(6, 20),
        "bring": rng.choice(BRING),
        "animator_needs": ". ".join(rng.sample(NEEDS, 2)),
        "offered_by": rng.choice(["", "", "Centre social Les Tilleuls", "Centre social du Chemin Vert"]),
    }


def agenda_body(rng: random.Random, centre: tuple[str, str], commune: str, start: datetime) -> dict:
    title, theme, icon = rng.choice(ACTIVITIES)
    return {
        "centre_id": centre[0],
        "centre_name": centre[1],
        "title": title,
        "theme": theme,
        "pictogram": icon,
        "place": rng.choice(PLACES),
        "commune": commune,
        "starts_at": protocol.utc_iso(start),
        "ends_at": protocol.utc_iso(start + timedelta(minutes=rng.choice([60, 90, 120]))),
        "seats_left": rng.randint(0, 15),
    }


MESSAGES = [
    ("Fermeture exceptionnelle lundi", "Closed on Monday", "مغلق يوم الاثنين", "event_busy"),
    (
        "Fête de quartier samedi au square",
        "Neighbourhood party on Saturday",
        "حفلة الحي يوم السبت",
        "celebration",
    ),
    ("Nouveaux horaires à partir du 1er mars", "New opening hours from 1 March", "", "schedule"),
]
REASONS = {
    "reasons": [
        {"code": "accueil", "label": "Une question, une information", "icon": "info"},
        {
            "code": "demarches",
            "label": "Aide pour un papier sur internet",
            "icon": "computer",
            "cra_theme": "demarches_administratives",
            "asks_body": True,
        },
        {"code": "rendez_vous", "label": "J'ai un rendez-vous", "icon": "event"},
        {"code": "atelier", "label": "Un atelier", "icon": "groups"},
        {"code": "ordinateur", "label": "Un ordinateur ou le wifi", "icon": "wifi"},
        {
            "code": "permanence",
            "label": "Voir une assistante sociale",
            "icon": "support_agent",
            "domain": "social_sante",
        },
        {"code": "autre", "label": "Autre chose", "icon": "more_horiz"},
    ]
}


def publish_federation(
    engine, args, rng: random.Random
) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """The federation's centres and what it publishes: (centres, sheet keys, agenda keys)."""

    def build(conn):
        made = []
        for index in range(args.centres):
            name = f"Centre social {rng.choice(COMMUNES)} {index + 1}"
            made.append((centres.add_centre(conn, name)[0], name))
        return made

    federation = hub_write(engine, build)
    sheets = [str(uuid.uuid4()) for _ in range(args.sheets)]
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    agenda: list[tuple[str, dict]] = []
    for index in range(args.agenda):
        centre = federation[index % len(federation)]
        start = now + timedelta(days=rng.randint(1, 21), hours=rng.randint(0, 9))
        agenda.append((str(uuid.uuid4()), agenda_body(rng, centre, rng.choice(COMMUNES), start)))

    def fill(conn):
        for index, key in enumerate(sheets):
            publications.publish(conn, "sheet", key, sheet_body(rng, index))
        for key, body in agenda:
            publications.publish(conn, "agenda", key, body)
        for fr, en, ar, icon in MESSAGES:
            text = {"fr": fr, "en": en, "ar": ar}
            body = {"text": text, "pictogram": icon, "starts_on": "2026-01-01", "ends_on": "2099-12-31"}
            publications.publish(conn, "message", uuid.uuid4().hex, body)
        publications.publish(conn, "reasons", "list", REASONS)

    hub_write(engine, fill)
    return federation, sheets, [key for key, _body in agenda]


class Wire:
    """A session counting the answers' bytes as sent (Content-Length)."""

    def __init__(self) -> None:
        self.session = client.make_session(retries=2)
        self.bytes = 0
        self.session.hooks["response"].append(self._count)

    def _count(self, response, *_args, **_kwargs) -> None:
        self.bytes += int(response.headers.get("Content-Length") or len(response.content))


def new_kiosk(hub, engine, centre_id: str, path: Path) -> str:
    code = hub_write(engine, lambda conn: centres.new_code(conn, centre_id))
    answer = syncing.enrol(hub.url, code, "Borne")
    with Store.open(str(path)) as kiosk:
        syncing.save_enrolment(Settings(kiosk), hub.url, answer)
    return str(path)


def pull(path: str) -> tuple[float, int, dict]:
    wire = Wire()
    start = time.perf_counter()
    got = syncing.pull_publications(path, session=wire.session)
    return time.perf_counter() - start, wire.bytes, got


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--centres", type=int, default=50)
    parser.add_argument("--sheets", type=int, default=500)
    parser.add_argument("--agenda", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(18)
    work = Path(tempfile.mkdtemp(prefix="bench-publications-"))
    db_url = f"sqlite:///{work / 'federation.db'}"
    store.migrate(store.create_engine(db_url))
    hub = start_hub(db_url, work)
    engine = store.create_engine(db_url)
    try:
        started = time.perf_counter()
        federation, sheets, agenda = publish_federation(engine, args, rng)
        print(
            f"published: {args.centres} centres, {len(sheets)} sheets, {len(agenda)} agenda entries, "
            f"{len(MESSAGES)} messages, the reasons list ({time.perf_counter() - started:.1f} s)"
        )
        times, sizes = [], []
        for run in range(args.runs):
            path = new_kiosk(hub, engine, federation[0][0], work / f"kiosk-{run}.db")
            seconds, size, got = pull(path)
            times.append(seconds)
            sizes.append(size)
        with Store.open(path) as kiosk:
            held = federation_feed.summary(kiosk)
        print(
            f"first pull: median {statistics.median(times) * 1000:.0f} ms "
            f"(runs {', '.join(f'{t * 1000:.0f}' for t in times)}), "
            f"{statistics.median(sizes) / 1000:.1f} kB on the wire; "
            f"held: {held['sheets']} sheets, {held['agenda']} agenda, {held['messages']} messages "
            f"(goal <= 2000 ms, <= 200 kB)"
        )

        def changes(conn):
            for index, key in enumerate(rng.sample(sheets, 10)):
                publications.publish(conn, "sheet", key, sheet_body(rng, 10_000 + index))
            moved = rng.sample(agenda, 100)
            for key in moved[:60]:
                body = publications.get(conn, "agenda", key)["body"]
                publications.publish(
                    conn, "agenda", key, body | {"seats_left": max(0, body["seats_left"] - 1)}
                )
            for key in moved[60:]:
                publications.withdraw(conn, "agenda", key)
            body = {"text": {"fr": "Atelier annulé jeudi"}, "pictogram": "warning"}
            body |= {"starts_on": "2026-01-01", "ends_on": "2099-12-31"}
            publications.publish(conn, "message", uuid.uuid4().hex, body)

        hub_write(engine, changes)
        seconds, size, got = pull(path)
        print(
            f"next sync: {seconds * 1000:.0f} ms, {size / 1000:.1f} kB on the wire, "
            f"{got['received']} received and {got['withdrawn']} withdrawn (71 and 40 changed at the hub)"
        )
        seconds, size, got = pull(path)
        print(
            f"nothing new: {seconds * 1000:.0f} ms, {size / 1000:.2f} kB on the wire, "
            f"{got['received']} received"
        )
    finally:
        engine.dispose()
        hub.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
