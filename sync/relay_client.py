"""The device's side of the hub's relay (``/api/v1/relay``, federation/relay.py).

Plain HTTP, one function per endpoint, errors as ``client.SyncError`` like
the rest of the sync (a portal's page, a refused token, a busy hub). The
blobs are already sealed (``sync.envelope``): this module never sees a key.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import requests

from sync import client

RELAY = "/relay"


def _session(session: requests.Session | None) -> requests.Session:
    return session or client.make_session(retries=2)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload(hub_url: str, token: str, blob: bytes, session: requests.Session | None = None) -> dict[str, Any]:
    """Hand one sealed blob to the relay: ``{"seq", "duplicate"}``. Sending
    the same blob again is answered as a duplicate."""
    response = client._request(
        _session(session),
        "POST",
        client._url(hub_url, RELAY + "/blobs"),
        data=blob,
        headers={**_auth(token), "Content-Type": "application/octet-stream"},
        timeout=client.DEFAULT_TIMEOUT,
    )
    answer = client._hub_json(response)
    if type(answer.get("seq")) is not int:
        raise client.SyncError(client.NOT_HUB, "the relay's answer has no seq")
    return answer


def fetch(
    hub_url: str, token: str, after: int, limit: int = 100, session: requests.Session | None = None
) -> dict[str, Any]:
    """The centre's blobs after cursor ``after`` (others' only), the blobs
    decoded: ``{"blobs": [{"seq", "device_id", "blob": bytes}], "cursor",
    "more", "restart"}``."""
    response = client._request(
        _session(session),
        "GET",
        client._url(hub_url, RELAY + "/blobs"),
        params={"after": after, "limit": limit},
        headers=_auth(token),
        timeout=client.DEFAULT_TIMEOUT,
    )
    page = client._hub_json(response)
    try:
        blobs = [
            {"seq": int(b["seq"]), "device_id": str(b["device_id"]), "blob": base64.b64decode(b["blob"])}
            for b in page["blobs"]
        ]
        return {
            "blobs": blobs,
            "cursor": int(page["cursor"]),
            "more": bool(page["more"]),
            "restart": bool(page["restart"]),
        }
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        raise client.SyncError(client.NOT_HUB, f"the relay's page is not what it sends: {error}") from error


def ack(hub_url: str, token: str, through: int, session: requests.Session | None = None) -> dict[str, Any]:
    """This device applied everything up to cursor ``through``."""
    response = client._request(
        _session(session),
        "POST",
        client._url(hub_url, RELAY + "/ack"),
        json={"through": through},
        headers=_auth(token),
        timeout=client.DEFAULT_TIMEOUT,
    )
    return client._hub_json(response)
