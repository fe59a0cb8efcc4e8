"""Checks an Agora RTC token (AccessToken2, "007...") as Agora would for a publisher.

Parsing is agoraiotools' (`AccessToken2.from_string`); the signature is recomputed here
because agoraiotools only builds tokens, it has no verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
import zlib
from dataclasses import dataclass

from agoraiotools.AccessToken2 import AccessToken2, ServiceRtc
from agoraiotools.Packer import unpack_string

# Rights a publisher that streams audio and motion data needs.
REQUIRED_PRIVILEGES = {
    ServiceRtc.kPrivilegeJoinChannel: "join channel",
    ServiceRtc.kPrivilegePublishAudioStream: "publish audio",
    ServiceRtc.kPrivilegePublishDataStream: "publish data",
}


class AgoraTokenRejected(Exception):
    """The token does not let this uid publish in this channel; the message says why."""


@dataclass(frozen=True)
class AgoraTokenFields:
    app_id: str
    issue_ts: int
    expire_s: int
    channel_name: str
    uid: str  # "" means any uid (a token built for uid 0)
    privileges: dict[int, int]


def _decode_body(token: str) -> bytes:
    """The zlib-compressed body after the "007" version prefix."""
    try:
        return zlib.decompress(base64.b64decode(token[3:], validate=True))
    except (ValueError, zlib.error) as exc:
        raise AgoraTokenRejected("token is malformed") from exc


def read_token(token: str) -> AgoraTokenFields:
    """Parse an AccessToken2 with agoraiotools, reading back the fields it keeps private."""
    if not token.startswith("007"):
        raise AgoraTokenRejected("token is not an AccessToken2 (007)")
    _decode_body(token)  # agoraiotools prints to stdout on garbage; refuse that first
    parsed = AccessToken2()
    try:
        ok = parsed.from_string(token)
    except (ValueError, KeyError) as exc:
        raise AgoraTokenRejected("token is malformed") from exc
    if not ok:
        raise AgoraTokenRejected("token is not an AccessToken2 (007)")
    # agoraiotools exposes no getters; its fields are name-mangled private attributes.
    services = parsed._AccessToken__service
    rtc = services.get(ServiceRtc.kServiceType)
    if rtc is None:
        raise AgoraTokenRejected("token has no RTC service")
    return AgoraTokenFields(
        app_id=_text(parsed._AccessToken__app_id),
        issue_ts=parsed._AccessToken__issue_ts,
        expire_s=parsed._AccessToken__expire,
        channel_name=_text(rtc._ServiceRtc__channel_name),
        uid=_text(rtc._ServiceRtc__uid),
        privileges=dict(rtc._Service__privileges),
    )


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _signature_matches(token: str, app_cert: str) -> bool:
    buffer = _decode_body(token)
    signature, signed = unpack_string(buffer)
    # `signed` starts with app id, then issue_ts and salt, which key the signing chain.
    _app_id, rest = unpack_string(signed)
    issue_ts, _expire, salt = struct.unpack("<III", rest[:12])
    key = hmac.new(struct.pack("<I", issue_ts), app_cert.encode(), hashlib.sha256).digest()
    key = hmac.new(struct.pack("<I", salt), key, hashlib.sha256).digest()
    expected = hmac.new(key, signed, hashlib.sha256).digest()
    return hmac.compare_digest(expected, signature)


def verify_publisher_token(
    token: str,
    *,
    app_id: str,
    app_cert: str,
    channel_name: str,
    uid: int,
    now: float | None = None,
) -> AgoraTokenFields:
    """Return the token's fields, or raise AgoraTokenRejected saying what is wrong."""
    if not token:
        raise AgoraTokenRejected("token is empty")
    fields = read_token(token)
    if fields.app_id != app_id:
        raise AgoraTokenRejected("token is for another app id")
    if not _signature_matches(token, app_cert):
        raise AgoraTokenRejected("token signature is invalid")
    if fields.channel_name != channel_name:
        raise AgoraTokenRejected("token is for another channel")
    if fields.uid not in ("", str(uid)):
        raise AgoraTokenRejected("token is for another uid")
    now = time.time() if now is None else now
    if now >= fields.issue_ts + fields.expire_s:
        raise AgoraTokenRejected("token is expired")
    for privilege, name in REQUIRED_PRIVILEGES.items():
        if privilege not in fields.privileges:
            raise AgoraTokenRejected(f"token lacks the {name} privilege")
        privilege_expire = fields.privileges[privilege]
        # A privilege expiry of 0 means it never expires.
        if privilege_expire and now >= fields.issue_ts + privilege_expire:
            raise AgoraTokenRejected(f"token's {name} privilege is expired")
    return fields
