"""What the avatar must share with the rest of the graph, and what it must not: the Agora
project of agora_rtc (the user's client joins that one), and its UID (another avatar
publishing with the same UID in the same channel pushes it out)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..config import params_of, parse_uid
from .findings import Finding, error
from .wiring import is_agora_rtc


def agora_project_findings(
    nodes: list[Mapping[str, Any]],
    properties: Mapping[str, Any],
    avatar: str,
    merged: Mapping[str, Any],
) -> list[Finding]:
    """The avatar's token is built for params.agora_appid: another Agora project than the one
    agora_rtc (and so the user's client) joins puts the avatar where nobody sees it."""
    params = params_of(merged)
    appid, token = params.get("agora_appid"), params.get("agora_token")
    if (
        not isinstance(appid, str)
        or not appid.strip()
        or (isinstance(token, str) and token.strip())
    ):
        return []  # a given token carries its own app id
    findings = []
    for item in nodes:
        rtc_app_id = properties.get(str(item.get("name")), {}).get("app_id")
        if (
            not is_agora_rtc(item)
            or not isinstance(rtc_app_id, str)
            or rtc_app_id.strip() in ("", appid.strip())
        ):
            continue
        rtc = str(item.get("name"))
        written = (
            (item.get("property") or {}).get("app_id")
            if isinstance(item.get("property"), Mapping)
            else None
        )
        how = (
            f"write {json.dumps(written)} there, as {rtc} does"
            if isinstance(written, str) and written.startswith("${env:")
            else f"set it to {rtc}'s app_id"
        )
        findings.append(
            error(
                f"{avatar}.params.agora_appid",
                f"is {appid.strip()!r} but {rtc} (agora_rtc) joins the Agora project {rtc_app_id.strip()!r}: the avatar "
                "would publish into another Agora project, where the user's client never sees it",
                f"use {rtc}'s Agora project: {how}",
            )
        )
    return findings


class Publishers:
    """The avatar nodes of one graph by (UID, channel), to find two that share both."""

    def __init__(self, properties: Mapping[str, Any]) -> None:
        self._properties = properties  # every node's resolved properties, for a free UID
        self._by_uid_and_channel: dict[tuple[int, str], str] = {}

    def add(self, avatar: str, uid: int | None, channel: str) -> list[Finding]:
        if uid is None:
            return []
        other = self._by_uid_and_channel.setdefault((uid, channel), avatar)
        if other == avatar:
            return []
        return [
            error(
                f"{avatar}.params.agora_uid",
                f"{uid} is also the UID of the avatar node {other} in the same channel: two publishers with one "
                "UID push each other out of the channel, so only one avatar is ever seen",
                f'give {avatar} its own UID, e.g. "{self._free_uid(uid)}"',
            )
        ]

    def _free_uid(self, taken: int) -> int:
        used = {taken}
        for props in self._properties.values():
            if isinstance(props, Mapping):
                params = params_of(props)
                for value in (
                    props.get("stream_id"),
                    props.get("remote_stream_id"),
                    params.get("agora_uid"),
                ):
                    if (
                        isinstance(value, (int, str))
                        and not isinstance(value, bool)
                        and (uid := parse_uid(str(value)))
                    ):
                        used.add(uid)
        return next(
            candidate
            for candidate in range(taken + 1, taken + len(used) + 2)
            if candidate not in used
        )
