"""Each funder's export out of the demo data: a demo kiosk synced through
a real hub process (SQLite and PostgreSQL), then `federation export` for
each funder as CSV and PDF, the dashboard's page of the same figures, and
`federation stats --json`: the screen, the CSV and the PDF say the same,
and the figures reconcile (age bands add up to the participants, themes to
the visits the hub holds)."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from html import unescape

import httpx
import pypdf
import pytest

from federation import ages, funders, taxonomies
from kiosk.core import demo
from sync import client
from tests.conftest_hub import run_federation
from tests.hub_sample import EMAIL, PASSWORD, sign_in

TODAY = date.today()
#: the demo's events all lie in the last months: a period of four years holds them
FROM, TO = (TODAY - timedelta(days=4 * 365)).isoformat(), (TODAY + timedelta(days=1)).isoformat()


@pytest.fixture
def demo_hub(hub_server, hub_db_url, tmp_path):
    """A hub holding a demo centre's events, pushed by the real sync client."""
    run_federation("add-user", EMAIL, db_url=hub_db_url, stdin=PASSWORD + "\n")
    server = hub_server(hub_db_url)
    device = server.new_device("Centre social de démonstration")
    kiosk_db = tmp_path / "demo.db"
    demo.build(kiosk_db, members=120, visits=900, seed=11)
    result = client.push(str(kiosk_db), server.url, device["device_token"])
    assert result.ok and result.parked == 0, result
    return server, device


def export(server, what: str, out, *extra: str) -> subprocess.CompletedProcess:
    return run_federation(
        "export", "--what", what, "--from", FROM, "--to", TO, "--out", str(out), *extra, db_url=server.db_url
    )


def csv_rows(path) -> list[tuple[str, str, str]]:
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Début", "Fin", "Centre", "Rubrique", "Indicateur", "Valeur"]
    return [(row[3], row[4], row[5]) for row in rows[1:]]


def page_rows(html: str) -> list[tuple[str, str, str]]:
    """(section, indicator, value) as the dashboard's page shows them."""
    found = []
    for section, body in re.findall(r'<h2 id="funder-section-\d+">(.*?)</h2>(.*?)</section>', html, re.S):
        for indicator, value in re.findall(r'<th scope="row">(.*?)</th><td class="num">(.*?)</td>', body):
            found.append((unescape(section), unescape(indicator), unescape(value)))
    return found


def number(value: str) -> float:
    """A CSV cell as a number (a decimal comma)."""
    return float(value.replace(",", "."))


def half_up(value: float, digits: int) -> float:
    """Rounded as the exports round (half up: 3.25 h is 3.3 h)."""
    return float(Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP))


def plain(value: str) -> str:
    """A figure without its grouping spaces (the page and the PDF group thousands)."""
    return re.sub(r"[\s\u202f\u00a0]", "", value).replace("—", "")


def test_every_funder_s_export_comes_out_of_the_demo_and_reconciles(demo_hub, tmp_path):
    server, device = demo_hub
    stats = json.loads(run_federation("stats", "--json", db_url=server.db_url).stdout)
    (held,) = [c["events"] for c in stats["centres"] if c["id"] == device["centre_id"]]
    figures = {}
    for what in funders.FUNDERS:
        export(server, what, tmp_path / f"{what}.csv")
        figures[what] = {
            (section, indicator): value for section, indicator, value in csv_rows(tmp_path / f"{what}.csv")
        }
    senacs, fse, cra = figures["senacs"], figures["fse"], figures["cra"]
    people = int(senacs[("Personnes touchées", "Personnes touchées (adhérents distincts venus)")])
    assert people > 0
    for what, section in (
        ("senacs", "Personnes touchées par tranche d'âge"),
        ("fse", "Participants par tranche d'âge"),
        ("cra", "Personnes venues par tranche d'âge"),
        ("caf", "Personnes touchées par tranche d'âge"),
    ):
        bands = [int(v) for (s, _i), v in figures[what].items() if s == section]
        assert len(bands) == len(ages.codes({"caf": "fse"}.get(what, what)))
        assert sum(bands) == people, what
    crossed = [int(v) for (s, _i), v in fse.items() if s == "Participants par sexe et tranche d'âge"]
    assert sum(crossed) == people
    # the demo's members gave a year (or nothing): « non renseigné » is those who said nothing
    assert int(senacs[("Personnes touchées par tranche d'âge", "Non renseigné")]) < people / 4
    # every visit counts once among the CRA's themes (or none), and once among the domains
    themes = [int(v) for (s, _i), v in cra.items() if s == "Accompagnements par thème"]
    without = int(cra[("Accompagnements", "Passages sans thème du CRA")])
    domains = [int(v) for (s, _i), v in cra.items() if s == "Passages par domaine administratif"]
    assert (
        sum(themes)
        == int(cra[("Accompagnements", "Accompagnements (passages d'un motif rattaché à un thème du CRA)")])
        > 0
    )
    assert sum(themes) + without == sum(domains) == held["visit.recorded"]
    assert int(cra[("Passages par domaine administratif", "Social - Santé")]) > 0
    # every workshop falls in one SENACS field: the fields add up to the workshops' totals
    by_domain = {i: int(v) for (s, i), v in senacs.items() if s == "Ateliers par domaine SENACS"}
    for figure in ("Séances tenues", "Présents", "Inscriptions"):
        per_domain = [n for indicator, n in by_domain.items() if indicator.endswith(f" : {figure}")]
        assert len(per_domain) == len(taxonomies.SENACS_DOMAIN_LABELS)
        assert sum(per_domain) == int(senacs[("Ateliers", figure)]), figure
    assert int(senacs[("Ateliers", "Séances tenues")]) > 0
    assert by_domain["Numérique, inclusion numérique : Ateliers tenus"] > 0
    # volunteers' time: the demo's twelve weeks, as stats counts what the hub holds
    (volunteering,) = [c["volunteering"] for c in stats["centres"] if c["id"] == device["centre_id"]]
    volunteers = {i: number(v) for (s, i), v in senacs.items() if s == "Bénévoles"}
    assert volunteers["Bénévoles actifs (distincts)"] == volunteering["volunteers"] == 4
    assert volunteers["Heures de bénévolat"] == half_up(volunteering["minutes"] / 60, 1) > 0
    for kind, words in (("activity", "Activités"), ("governance", "Gouvernance (CA, commissions)")):
        held_kind = volunteering["by_kind"][kind]
        assert volunteers[f"Bénévoles actifs : {words}"] == held_kind["volunteers"] > 0
        assert volunteers[f"Heures : {words}"] == half_up(held_kind["minutes"] / 60, 1) > 0
    days = (date.fromisoformat(TO) - date.fromisoformat(FROM)).days + 1
    fte = volunteering["minutes"] / 60 / (1607 * days / 365)
    assert volunteers["Équivalents temps plein (1 607 h par an)"] == half_up(fte, 2)


def test_the_page_the_csv_and_the_pdf_say_the_same(demo_hub, tmp_path):
    server, device = demo_hub
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        assert sign_in(browser).status_code == 303
        for what in funders.FUNDERS:
            export(server, what, tmp_path / f"{what}.csv")
            export(server, what, tmp_path / f"{what}.pdf")
            page = browser.get(f"/funders/{what}", params={"from": FROM, "to": TO})
            assert page.status_code == 200
            shown = page_rows(page.text)
            written = csv_rows(tmp_path / f"{what}.csv")
            assert [(s, i, plain(v)) for s, i, v in shown] == [(s, i, plain(v)) for s, i, v in written], what
            downloaded = browser.get(f"/exports/funders/{what}.csv", params={"from": FROM, "to": TO})
            assert downloaded.status_code == 200
            assert [
                row[3:]
                for row in csv.reader(io.StringIO(downloaded.content.decode("utf-8-sig")), delimiter=";")
            ][1:] == [list(row) for row in written]
            text = plain(" ".join(p.extract_text() for p in pypdf.PdfReader(tmp_path / f"{what}.pdf").pages))
            for section, indicator, value in shown:  # each row's words, then its figure
                assert plain(indicator + value) in text and plain(section) in text, (what, indicator)
            assert plain(funders.FUNDERS[what]) in text
        # one centre's figures: the same as all, the hub holding one centre
        one = browser.get("/funders/cra", params={"from": FROM, "to": TO, "centre": device["centre_id"]})
        every = browser.get("/funders/cra", params={"from": FROM, "to": TO})
        assert page_rows(one.text) == page_rows(every.text)
        assert browser.get("/funders/impots").status_code == 404


def test_the_export_command_names_what_is_wrong_and_writes_nothing(demo_hub, tmp_path):
    server, _device = demo_hub
    out = tmp_path / "senacs.csv"
    for extra, said in (((("--to", "31/02/2026"),), "--to"), ((("--centre", "nowhere"),), "--centre")):
        args = ["export", "--what", "senacs", "--from", FROM, "--out", str(out)]
        args += [x for pair in extra for x in pair]
        if "--to" not in args:
            args += ["--to", TO]
        with pytest.raises(subprocess.CalledProcessError) as error:
            run_federation(*args, db_url=server.db_url)
        assert said in error.value.stderr and "Traceback" not in error.value.stderr
        assert not out.exists()
    with pytest.raises(subprocess.CalledProcessError) as error:
        export(server, "senacs", tmp_path / "no-such-folder" / "senacs.csv")
    assert "--out" in error.value.stderr and "Traceback" not in error.value.stderr
