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

from sync import client, protocol

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
        snapshot = page.get("snapshot")
        return {
            "blobs": blobs,
            "cursor": int(page["cursor"]),
            "more": bool(page["more"]),
            "restart": bool(page["restart"]),
            # a hub before key rotations says neither
            "rotate": bool(page.get("rotate", False)),
            "key_epoch": int(page.get("key_epoch", 0)),
            "snapshot": (
                None
                if snapshot is None
                else {"through": int(snapshot["through"]), "uploaded_at": str(snapshot["uploaded_at"])}
            ),
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


def _post_json(
    hub_url: str, token: str, path: str, body: Any, session: requests.Session | None
) -> dict[str, Any]:
    response = client._request(
        _session(session),
        "POST",
        client._url(hub_url, RELAY + path),
        json=body,
        headers=_auth(token),
        timeout=client.DEFAULT_TIMEOUT,
    )
    return client._hub_json(response)


def create_invite(
    hub_url: str, token: str, verify_key: bytes | None = None, session: requests.Session | None = None
) -> dict[str, Any]:
    """An invite to this device's centre: ``{"invite_id", "code",
    "expires_at", "short_code"}``; the short code to type comes when this
    device gives its ``verify_key`` (a device that types it gets that key)."""
    body = {"verify_key": verify_key.hex()} if verify_key is not None else None
    return _post_json(hub_url, token, "/invites", body, session)


def join_invite(
    hub_url: str, token: str, invite_id: str, verify_key: bytes, session: requests.Session | None = None
) -> dict[str, Any]:
    """The joining device's verify key, for the inviter to seal the keyring to."""
    return _post_json(hub_url, token, f"/invites/{invite_id}/join", {"verify_key": verify_key.hex()}, session)


def read_invite(
    hub_url: str, token: str, invite_id: str, session: requests.Session | None = None
) -> dict[str, Any]:
    """Where an invite stands; ``sealed`` decoded to bytes when present."""
    response = client._request(
        _session(session),
        "GET",
        client._url(hub_url, RELAY + f"/invites/{invite_id}"),
        headers=_auth(token),
        timeout=client.DEFAULT_TIMEOUT,
    )
    invite = client._hub_json(response)
    try:
        sealed = invite.get("sealed")
        invite["sealed"] = base64.b64decode(sealed) if sealed else None
        key = invite.get("joiner_key")
        invite["joiner_key"] = bytes.fromhex(key) if key else None
    except (TypeError, ValueError, binascii.Error) as error:
        raise client.SyncError(client.NOT_HUB, f"the relay's invite is not what it sends: {error}") from error
    return invite


def hand_over(
    hub_url: str, token: str, invite_id: str, sealed: bytes, session: requests.Session | None = None
) -> dict[str, Any]:
    """Leave the keyring sealed to the joiner at the relay."""
    response = client._request(
        _session(session),
        "POST",
        client._url(hub_url, RELAY + f"/invites/{invite_id}/keyring"),
        data=sealed,
        headers={**_auth(token), "Content-Type": "application/octet-stream"},
        timeout=client.DEFAULT_TIMEOUT,
    )
    return client._hub_json(response)


def put_snapshot(
    hub_url: str,
    token: str,
    blob: bytes,
    through: int,
    session: requests.Session | None = None,
    purge: bool = False,
) -> dict[str, Any]:
    """Replace the centre's sealed snapshot (covering cursor ``through``);
    ``purge``: the relay drops the blobs it covers now (after an erasure).
    ``{"through", "kept", "dropped"}``: not kept when the relay holds a newer one."""
    response = client._request(
        _session(session),
        "PUT",
        client._url(hub_url, RELAY + "/snapshot"),
        params={"through": through, "purge": "true" if purge else "false"},
        data=blob,
        headers={**_auth(token), "Content-Type": "application/octet-stream"},
        timeout=client.DEFAULT_TIMEOUT,
    )
    return client._hub_json(response)


def get_snapshot(
    hub_url: str, token: str, session: requests.Session | None = None
) -> tuple[bytes, int] | None:
    """The centre's sealed snapshot and the cursor it covers, or None."""
    response = client._request(
        _session(session),
        "GET",
        client._url(hub_url, RELAY + "/snapshot"),
        headers=_auth(token),
        timeout=client.DEFAULT_TIMEOUT,
    )
    if response.status_code == 404 and response.headers.get(protocol.HUB_HEADER) == "1":
        return None
    if response.status_code != 200:
        client._hub_json(response)  # raises the right SyncError
        raise client.SyncError(client.NOT_HUB, f"unexpected answer {response.status_code}")
    try:
        return response.content, int(response.headers["X-Relay-Through"])
    except (KeyError, ValueError) as error:
        raise client.SyncError(client.NOT_HUB, "the snapshot came without its cursor") from error


def keys(hub_url: str, token: str, after: int, session: requests.Session | None = None) -> dict[str, Any]:
    """Where the centre's key stands: ``{"epoch", "rotate", "active",
    "rotations": [{"epoch", "device_id", "key_id", "body": bytes}]}``, the
    rotations after epoch ``after``."""
    response = client._request(
        _session(session),
        "GET",
        client._url(hub_url, RELAY + "/keys"),
        params={"after": after},
        headers=_auth(token),
        timeout=client.DEFAULT_TIMEOUT,
    )
    state = client._hub_json(response)
    try:
        return {
            "epoch": int(state["epoch"]),
            "rotate": bool(state["rotate"]),
            "active": [str(device) for device in state["active"]],
            "rotations": [
                {
                    "epoch": int(r["epoch"]),
                    "device_id": str(r["device_id"]),
                    "key_id": str(r["key_id"]),
                    "body": base64.b64decode(r["body"]),
                }
                for r in state["rotations"]
            ],
        }
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        raise client.SyncError(client.NOT_HUB, f"the relay's keys are not what it sends: {error}") from error


def post_rotation(
    hub_url: str, token: str, body: bytes, session: requests.Session | None = None
) -> dict[str, Any]:
    """Post a new centre key sealed to the remaining devices: ``{"epoch",
    "accepted"}``, not accepted when another device's came first."""
    response = client._request(
        _session(session),
        "POST",
        client._url(hub_url, RELAY + "/keys"),
        data=body,
        headers={**_auth(token), "Content-Type": "application/octet-stream"},
        timeout=client.DEFAULT_TIMEOUT,
    )
    return client._hub_json(response)


class InviteRefused(Exception):
    """The hub refused an invite's code: ``reason`` is ``expired``, ``used``,
    ``unknown`` (a mistyped code reads as unknown), or for a short code
    ``burnt`` (blocked after too many wrong tries)."""

    def __init__(self, reason: str, message_en: str):
        super().__init__(message_en)
        self.reason = reason


def enrol_invited(
    hub_url: str, code: str, label: str, session: requests.Session | None = None
) -> dict[str, Any]:
    """Trade an invite's one-time code for this device's token (POST
    /enrol), telling an expired, a used and an unknown code apart."""
    response = client._request(
        _session(session),
        "POST",
        client._url(hub_url, "/enrol"),
        json={"code": code, "label": label},
        timeout=client.DEFAULT_TIMEOUT,
    )
    if response.status_code == 403 and response.headers.get(protocol.HUB_HEADER) == "1":
        try:
            error = str(response.json().get("error", ""))
        except ValueError:
            error = ""
        reason = "expired" if "expired" in error else "used" if "already used" in error else "unknown"
        raise InviteRefused(reason, f"the hub refused the invite's code: {error}")
    return _answer(response)  # any other refusal raises the SyncError it is


#: the lookup's refusals, by status and the reason its message starts with
_LOOKUP_REASONS = {403: "unknown", 409: "used", 410: "expired", 400: "unknown"}


def lookup_invite(hub_url: str, short_code: str, session: requests.Session | None = None) -> dict[str, Any]:
    """Trade an invite's short code for the invite (POST
    /relay/invites/lookup): ``{"code", "invite_id", "inviter_id",
    "inviter_key" (bytes), "expires_at"}``. InviteRefused tells an unknown,
    an expired, a used and a burnt code apart; any other refusal is the
    SyncError it is (an address that is no hub: ``NOT_HUB``)."""
    response = client._request(
        _session(session),
        "POST",
        client._url(hub_url, RELAY + "/invites/lookup"),
        json={"code": short_code},
        timeout=client.DEFAULT_TIMEOUT,
    )
    if response.status_code in _LOOKUP_REASONS and response.headers.get(protocol.HUB_HEADER) == "1":
        try:
            error = str(response.json().get("error", ""))
        except ValueError:
            error = ""
        reason = "burnt" if error.startswith("burnt") else _LOOKUP_REASONS[response.status_code]
        raise InviteRefused(reason, f"the hub refused the short code: {error}")
    found = client._hub_json(response)
    try:
        key = bytes.fromhex(str(found["inviter_key"]))
        if len(key) != 32 or not all(isinstance(found[k], str) for k in ("code", "invite_id", "inviter_id")):
            raise ValueError("wrong key or ids")
    except (KeyError, ValueError) as error:
        raise client.SyncError(client.NOT_HUB, f"the hub's invite is not what it sends: {error}") from error
    return {**found, "inviter_key": key}


def _answer(response: requests.Response) -> dict[str, Any]:
    answer = client._hub_json(response)
    missing = {"device_id", "device_token", "centre_id"} - set(answer)
    if missing:
        raise client.SyncError(client.NOT_HUB, f"enrolment answer lacks {sorted(missing)}")
    return answer
