"""The device's side of the hub's seat requests between centres
(``/api/v1/seat-requests``, ``/api/v1/centre-key``; federation/seat_requests.py).

Plain HTTP, one function per endpoint, errors as ``client.SyncError`` like
the rest of the sync. What goes through is already sealed
(``sync.envelope.seal_to_centre``): this module never sees a key but the
centre's public one.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import requests

from sync import client


def _session(session: requests.Session | None) -> requests.Session:
    return session or client.make_session(retries=2)


def _call(
    method: str, hub_url: str, token: str, path: str, session: requests.Session | None, **kwargs: Any
) -> requests.Response:
    return client._request(
        _session(session),
        method,
        client._url(hub_url, path),
        headers={"Authorization": f"Bearer {token}"},
        timeout=client.DEFAULT_TIMEOUT,
        **kwargs,
    )


def register_key(hub_url: str, token: str, public_key: str, session: requests.Session | None = None) -> None:
    """Register this device's centre's public key (hex) at the hub (the
    first one registered for the centre holds: another is refused)."""
    client._hub_json(_call("PUT", hub_url, token, "/centre-key", session, json={"public_key": public_key}))


def centre_key(
    hub_url: str, token: str, centre_id: str, session: requests.Session | None = None
) -> str | None:
    """Another centre's public key (hex), None while it has none."""
    response = _call("GET", hub_url, token, f"/centres/{centre_id}/key", session)
    if response.status_code == 404 and response.headers.get("X-Accueil-Hub") == "1":
        return None
    key = client._hub_json(response).get("public_key")
    if not isinstance(key, str):
        raise client.SyncError(client.NOT_HUB, "the hub's answer has no public key")
    return key


def submit(
    hub_url: str,
    token: str,
    request_id: str,
    to_centre: str,
    sealed: bytes,
    session: requests.Session | None = None,
) -> None:
    """Hand a sealed request to the hub; sending it again is a duplicate."""
    body = {"id": request_id, "to_centre": to_centre, "sealed": base64.b64encode(sealed).decode()}
    client._hub_json(_call("POST", hub_url, token, "/seat-requests", session, json=body))


def _decoded(items: Any, field: str) -> list[dict[str, Any]]:
    try:
        return [{**item, field: base64.b64decode(item[field], validate=True)} for item in items]
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        raise client.SyncError(client.NOT_HUB, f"the hub's list is not what it sends: {error}") from error


def inbox(hub_url: str, token: str, session: requests.Session | None = None) -> list[dict[str, Any]]:
    """The requests sealed to this centre, not yet taken: each with ``id``,
    ``from_centre``, ``from_centre_name``, ``sealed`` (bytes), ``created_at``."""
    answer = client._hub_json(_call("GET", hub_url, token, "/seat-requests/inbox", session))
    return _decoded(answer.get("requests"), "sealed")


def received(hub_url: str, token: str, request_id: str, session: requests.Session | None = None) -> None:
    """This device holds the request: the hub lets its content go."""
    client._hub_json(_call("POST", hub_url, token, f"/seat-requests/{request_id}/received", session))


def answer(
    hub_url: str, token: str, request_id: str, sealed: bytes, session: requests.Session | None = None
) -> None:
    body = {"sealed": base64.b64encode(sealed).decode()}
    client._hub_json(_call("POST", hub_url, token, f"/seat-requests/{request_id}/answer", session, json=body))


def answers(hub_url: str, token: str, session: requests.Session | None = None) -> list[dict[str, Any]]:
    """The answers to this device's requests: ``id``, ``to_centre``, ``answer`` (bytes)."""
    reply = client._hub_json(_call("GET", hub_url, token, "/seat-requests/answers", session))
    return _decoded(reply.get("answers"), "answer")


def done(hub_url: str, token: str, request_id: str, session: requests.Session | None = None) -> None:
    """This device holds the answer: the request leaves the hub."""
    client._hub_json(_call("POST", hub_url, token, f"/seat-requests/{request_id}/done", session))
