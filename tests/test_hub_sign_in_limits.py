"""Sign-in limits and the pre-authentication rate limit, against a real
`federation serve` process on SQLite and PostgreSQL: simultaneous attempts
from threads, clients bound to different 127.0.0.x source addresses."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import sqlalchemy as sa

from federation import store, users
from sync import protocol
from tests.hub_sample import EMAIL, PASSWORD, hidden_csrf

CROWD = 40
WRONG = "pas le bon mot de passe"


def client_from(hub, address: str) -> httpx.Client:
    """A client whose connections leave from ``address`` (any of 127.0.0.0/8)."""
    return httpx.Client(
        base_url=hub.url,
        follow_redirects=False,
        timeout=60,
        transport=httpx.HTTPTransport(local_address=address),
    )


def post_login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    token = hidden_csrf(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def staff_hub(hub_server, hub_db_url):
    engine = store.open_engine(hub_db_url)
    users.add_user(engine, EMAIL, PASSWORD)
    engine.dispose()
    # no pre-authentication limit here: these tests are about the per-person count
    return hub_server(hub_db_url, pre_auth_rate_limit=0)


def attempts_counted(db_url: str, email: str) -> int:
    engine = store.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count())
                .select_from(users.login_failures)
                .where(users.login_failures.c.email == email)
            ).scalar_one()
    finally:
        engine.dispose()


def test_simultaneous_wrong_passwords_test_at_most_the_limit(staff_hub):
    """39 wrong passwords sent at once, then the right one while they are in
    flight: at most five passwords are ever checked, and the right one is refused."""
    clients = [client_from(staff_hub, "127.0.0.7") for _ in range(CROWD)]
    tokens = [hidden_csrf(client.get("/login").text) for client in clients]
    start = threading.Barrier(CROWD - 1)
    answers: dict[int, int] = {}

    def attempt(i: int, password: str, wait: bool = True) -> None:
        if wait:
            start.wait()
        answers[i] = (
            clients[i]
            .post("/login", data={"email": EMAIL, "password": password, "csrf_token": tokens[i]})
            .status_code
        )

    threads = [threading.Thread(target=attempt, args=(i, WRONG)) for i in range(CROWD - 1)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while attempts_counted(staff_hub.db_url, EMAIL) < users.MAX_FAILURES_PER_EMAIL:
        assert time.monotonic() < deadline, "the attempts were never counted"
        time.sleep(0.005)
    attempt(CROWD - 1, PASSWORD, wait=False)
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()

    checked = [status for status in answers.values() if status in (401, 303)]
    assert len(checked) <= users.MAX_FAILURES_PER_EMAIL, sorted(answers.values())
    assert set(answers.values()) <= {401, 429}
    assert answers[CROWD - 1] == 429  # the right password, too late: not let in
    with client_from(staff_hub, "127.0.0.7") as again:
        assert post_login(again, EMAIL, PASSWORD).status_code == 429


def test_a_stranger_cannot_lock_staff_out_from_elsewhere(staff_hub):
    with client_from(staff_hub, "127.0.0.2") as stranger:
        for _ in range(users.MAX_FAILURES_PER_EMAIL):
            assert post_login(stranger, EMAIL, WRONG).status_code == 401
        locked = post_login(stranger, EMAIL, PASSWORD)
        assert locked.status_code == 429 and "Trop de tentatives" in locked.text
    with client_from(staff_hub, "127.0.0.3") as staff:
        answer = post_login(staff, EMAIL, PASSWORD)
        assert answer.status_code == 303 and "accueil_session" in staff.cookies


def test_a_forwarded_address_is_not_believed_without_a_trusted_proxy(staff_hub):
    # each attempt claims another address: the hub counts the real peer
    with client_from(staff_hub, "127.0.0.1") as stranger:
        for n in range(users.MAX_FAILURES_PER_EMAIL):
            stranger.headers["X-Forwarded-For"] = f"198.51.100.{n}"
            assert post_login(stranger, EMAIL, WRONG).status_code == 401
        stranger.headers["X-Forwarded-For"] = "198.51.100.200"
        assert post_login(stranger, EMAIL, PASSWORD).status_code == 429


def test_a_right_password_clears_the_failures_from_that_address(staff_hub):
    with client_from(staff_hub, "127.0.0.4") as staff:
        for _ in range(users.MAX_FAILURES_PER_EMAIL - 1):
            assert post_login(staff, EMAIL, WRONG).status_code == 401
        assert post_login(staff, EMAIL, PASSWORD).status_code == 303
    assert attempts_counted(staff_hub.db_url, EMAIL) == 0


# ---------------------------------------------------------------- before authentication


@pytest.fixture
def guarded(hub_server):
    return hub_server(pre_auth_rate_limit=10)


def test_enrolment_code_guesses_are_held_to_the_rate(guarded):
    with client_from(guarded, "127.0.0.5") as guesser:
        statuses = [
            guesser.post("/api/v1/enrol", json={"code": f"GUESS{n:04d}"}).status_code for n in range(30)
        ]
        refused = guesser.post("/api/v1/enrol", json={"code": "GUESS9999"})
    assert statuses[:10] == [403] * 10 and statuses[10:] == [429] * 20
    assert refused.json()["error"].startswith("too many refused requests")
    assert int(refused.headers["retry-after"]) >= 1 and refused.headers["x-accueil-hub"] == "1"
    # another address is not held back, and right codes never spend the budget
    with client_from(guarded, "127.0.0.6") as centre:
        for _ in range(15):
            _centre_id, code = guarded.add_centre()
            assert centre.post("/api/v1/enrol", json={"code": code}).status_code == 200


def test_a_flood_of_bad_tokens_does_not_hold_back_a_real_device(guarded):
    device = guarded.new_device()
    with client_from(guarded, "127.0.0.8") as flood:
        flood.headers["Authorization"] = "Bearer not-a-token"
        statuses = [
            flood.post(
                "/api/v1/batches", json={"protocol": protocol.PROTOCOL_VERSION, "events": []}
            ).status_code
            for _ in range(25)
        ]
    assert statuses.count(401) == 10 and statuses.count(429) == 15
    with guarded.client(device["device_token"]) as kiosk:
        for _ in range(15):
            answer = kiosk.post("/api/v1/batches", json={"protocol": protocol.PROTOCOL_VERSION, "events": []})
            assert answer.status_code == 200


def test_many_batches_in_flight_from_one_address_are_not_held_back(guarded):
    """Kiosks of a centre behind one address, with right tokens, may have
    more batches in flight at once than the limit: once a token was
    accepted, none waits for the budget (the limit counts refusals, not
    requests)."""
    device = guarded.new_device()
    body = {"protocol": protocol.PROTOCOL_VERSION, "events": []}
    with client_from(guarded, "127.0.0.10") as kiosk:
        kiosk.headers["Authorization"] = f"Bearer {device['device_token']}"
        assert kiosk.post("/api/v1/batches", json=body).status_code == 200
    statuses: list[int] = []
    start = threading.Barrier(CROWD)

    def push() -> None:
        with client_from(guarded, "127.0.0.10") as kiosk:
            kiosk.headers["Authorization"] = f"Bearer {device['device_token']}"
            start.wait()
            statuses.append(kiosk.post("/api/v1/batches", json=body).status_code)

    threads = [threading.Thread(target=push) for _ in range(CROWD)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * CROWD  # four times the limit of 10, at once
    # a wrong token from that address still spends the budget as before
    with client_from(guarded, "127.0.0.10") as guesser:
        guesser.headers["Authorization"] = "Bearer not-a-token"
        wrong = [guesser.post("/api/v1/batches", json=body).status_code for _ in range(12)]
    assert wrong.count(401) == 10 and wrong.count(429) == 2


def test_sign_in_attempts_are_held_to_the_rate(guarded):
    with client_from(guarded, "127.0.0.9") as guesser:
        statuses = [
            post_login(guesser, f"personne{n}@federation.example", WRONG).status_code for n in range(12)
        ]
        page = post_login(guesser, "encore@federation.example", WRONG)
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429] * 2
    assert page.status_code == 429 and "Trop de tentatives" in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_the_budget_refills_and_keeps_a_bounded_number_of_addresses():
    from federation.ratelimit import RefusalBudget

    now = [0.0]
    budget = RefusalBudget(per_minute=6, max_addresses=100, clock=lambda: now[0])
    assert [budget.take("192.0.2.1") for _ in range(7)] == [0] * 6 + [10]  # one token every 10 s
    budget.give_back("192.0.2.1")  # a right password or token spends nothing
    assert budget.take("192.0.2.1") == 0 and budget.take("192.0.2.1") == 10
    now[0] += 10
    assert budget.take("192.0.2.1") == 0
    for n in range(10_000):  # addresses by the thousand: memory stays bounded
        budget.take(f"2001:db8::{n:x}")
    assert len(budget.buckets) == 100
