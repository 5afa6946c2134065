"""schemathesis against the hub's own OpenAPI schema, on a live server: any
request the schema allows (and many it does not) gets a JSON answer with the
hub header and never a 5xx. Bounded examples, so it runs in well under a minute."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings, strategies

from federation import store, users
from sync import protocol
from tests.conftest_hub import start_hub
from tests.hub_sample import EMAIL, PASSWORD, sign_in


@pytest.fixture(scope="module")
def fuzzed_hub(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("hub")
    db_url = f"sqlite:///{log_dir / 'federation.db'}"
    engine = store.open_engine(db_url)
    users.add_user(engine, EMAIL, PASSWORD)
    engine.dispose()
    # no limits: every generated request must reach the code under test
    server = start_hub(db_url, log_dir, rate_limit=0, pre_auth_rate_limit=0)
    server.device = server.new_device()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzzed_hub):
    # the schema is for signed-in staff only
    with httpx.Client(base_url=fuzzed_hub.url, timeout=30) as client:
        assert sign_in(client).status_code == 303
        cookie = f"accueil_session={client.cookies['accueil_session']}"
    return schemathesis.openapi.from_url(
        f"{fuzzed_hub.url}/openapi.json", headers={"Cookie": cookie}
    ).include(path_regex="^/api/")


def operations(api_schema) -> list:
    found = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.label for op in found} >= {"POST /api/v1/enrol", "POST /api/v1/batches", "GET /api/v1/status"}
    return found


def fuzz(operation, examples: int, check) -> None:
    """Run ``check(case)`` on generated cases, valid and invalid ones."""
    cases = strategies.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    def run(case):
        check(case)

    run()


def test_no_request_makes_the_hub_fail(fuzzed_hub, api_schema):
    token = fuzzed_hub.device["device_token"]

    def check(case):
        response = case.call(
            base_url=fuzzed_hub.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert response.status_code < 500, (
            f"{case.as_curl_command()} -> {response.status_code}: {response.text}"
        )
        assert response.headers.get(protocol.HUB_HEADER.lower()) == ["1"]
        if response.status_code >= 400:
            assert response.json()["error"]

    for operation in operations(api_schema):
        fuzz(operation, 60, check)


def test_no_request_without_a_token_makes_the_hub_fail(fuzzed_hub, api_schema):
    def check(case):
        response = case.call(base_url=fuzzed_hub.url, timeout=30)
        assert response.status_code < 500, (
            f"{case.as_curl_command()} -> {response.status_code}: {response.text}"
        )

    for operation in operations(api_schema):
        fuzz(operation, 15, check)
