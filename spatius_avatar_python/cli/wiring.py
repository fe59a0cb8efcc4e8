"""The avatar's place in a graph: which messages reach it, and what must not happen."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from ..config import parse_uid
from .findings import Finding, error, warning

MESSAGE_KINDS = ("cmd", "data", "audio_frame", "video_frame")
END_OF_SPEECH = ("tts_audio_end", "finalize")


class Route(NamedTuple):
    kind: str
    name: str
    src: str
    dst: str


def forward_routes(graph: Mapping[str, Any]) -> set[Route]:
    """Every route as `src -> dst`, with `source` items and `names` lists expanded."""
    routes: set[Route] = set()
    for connection in graph.get("connections") or []:
        owner = connection.get("extension") if isinstance(connection, Mapping) else None
        if not owner:
            continue  # subgraph and selector connections do not concern the avatar
        for kind in MESSAGE_KINDS:
            for item in connection.get(kind) or []:
                if not isinstance(item, Mapping):
                    continue
                names = ([item["name"]] if "name" in item else []) + list(item.get("names") or [])
                dests = [d["extension"] for d in item.get("dest") or [] if isinstance(d, Mapping) and "extension" in d]
                sources = [s["extension"] for s in item.get("source") or [] if isinstance(s, Mapping) and "extension" in s]
                for name in names:
                    routes.update(Route(kind, name, owner, dst) for dst in dests)
                    routes.update(Route(kind, name, src, owner) for src in sources)
    return routes


def is_agora_rtc(node: Mapping[str, Any]) -> bool:
    return str(node.get("addon", "")).startswith("agora_rtc")


def _uid(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    return parse_uid(value) if isinstance(value, str) else None


def _route_snippet(owner: str, kind: str, name: str, dst: str) -> str:
    return json.dumps({"extension": owner, kind: [{"name": name, "dest": [{"extension": dst}]}]})


def _guess(nodes: Iterable[Mapping[str, Any]], word: str, default: str) -> str:
    found = [n["name"] for n in nodes if word in str(n.get("name", "")) or word in str(n.get("addon", ""))]
    return found[0] if len(found) == 1 else default


def wiring_findings(
    graph: Mapping[str, Any],
    avatar: str,
    properties: Mapping[str, Mapping[str, Any]],
    avatar_uid: int | None,
    avatar_channel: str,
) -> list[Finding]:
    """Problems in how `avatar` is wired; `properties` are the nodes' resolved properties."""
    nodes = [n for n in graph.get("nodes") or [] if isinstance(n, Mapping) and n.get("name")]
    by_name = {n["name"]: n for n in nodes}
    routes = forward_routes(graph)
    into = {r for r in routes if r.dst == avatar}
    out = {r for r in routes if r.src == avatar}
    where = f"{avatar} wiring"
    findings: list[Finding] = []

    audio_sources = sorted({r.src for r in into if r.kind == "audio_frame" and r.name == "pcm_frame"})
    tts_name = _guess(nodes, "tts", "<tts node>")
    if not audio_sources:
        findings.append(error(
            where, "no audio_frame pcm_frame is routed to the avatar: it never gets the agent's voice",
            f"route the TTS node's pcm_frame to it: {_route_snippet(tts_name, 'audio_frame', 'pcm_frame', avatar)}",
        ))
    for src in audio_sources:
        if src in by_name and is_agora_rtc(by_name[src]):
            findings.append(error(
                where, f"pcm_frame from {src} (agora_rtc: the user's microphone) is routed to the avatar, "
                "so it would lip-sync the user", f"route pcm_frame to {avatar} only from the TTS node",
            ))
    for route in sorted(routes):
        if route.kind == "audio_frame" and route.name == "pcm_frame" and route.src in audio_sources:
            target = by_name.get(route.dst)
            if target is not None and is_agora_rtc(target) and not is_agora_rtc(by_name.get(route.src, {})):
                findings.append(error(
                    f"{route.src} -> {route.dst} wiring",
                    f"the TTS audio (pcm_frame from {route.src}) goes to both {avatar} and the agora_rtc node "
                    f"{route.dst}: the user hears the voice twice (Spatius publishes it into the channel)",
                    f"remove the pcm_frame route from {route.src} to {route.dst}",
                ))

    if not any(r.kind == "data" and r.name in END_OF_SPEECH for r in into):
        findings.append(error(
            where, "neither data tts_audio_end nor finalize is routed to the avatar: it cannot tell "
            "when the agent's speech is complete, so the avatar's last words are cut or delayed",
            f"route tts_audio_end (and tts_audio_start) from the TTS node: "
            f"{_route_snippet(tts_name, 'data', 'tts_audio_end', avatar)}",
        ))
    if not any(r.kind == "cmd" and r.name == "flush" for r in into):
        flushers = sorted({r.src for r in routes if r.kind == "cmd" and r.name == "flush" and r.src != avatar})
        control = flushers[0] if flushers else _guess(nodes, "control", "<the node that handles interruptions>")
        findings.append(error(
            where, "cmd flush is not routed to the avatar: when the user interrupts, the avatar keeps speaking",
            f"route flush to it: {_route_snippet(control, 'cmd', 'flush', avatar)}",
        ))
    for name in ("error", "metrics"):
        if not any(r.kind == "data" and r.name == name for r in out):
            findings.append(warning(
                where, f"the avatar's data {name} goes nowhere, so its {name} are lost",
                f"route it, e.g. {_route_snippet(avatar, 'data', name, _guess(nodes, 'control', 'main_control'))}",
            ))

    findings += _uid_findings(nodes, properties, avatar, avatar_uid)
    findings += _channel_findings(nodes, properties, avatar, avatar_channel)
    return findings


def _uid_findings(
    nodes: list[Mapping[str, Any]], properties: Mapping[str, Mapping[str, Any]], avatar: str, avatar_uid: int | None
) -> list[Finding]:
    if avatar_uid is None:
        return []
    taken: list[tuple[int, str]] = []
    for node in nodes:
        props = properties.get(node["name"], {})
        if is_agora_rtc(node) and (uid := _uid(props.get("stream_id"))):
            taken.append((uid, f"{node['name']}'s stream_id (the agent's UID)"))
        if uid := _uid(props.get("remote_stream_id")):
            taken.append((uid, f"{node['name']}'s remote_stream_id (the user's UID)"))
    used = {uid for uid, _ in taken} | {avatar_uid}
    free = next(candidate for candidate in range(2001, 2001 + len(used) + 1) if candidate not in used)
    return [
        error(
            f"{avatar}.params.agora_uid",
            f"{avatar_uid} is also {owner}: two participants with one UID push each other out of the channel",
            f'give the avatar its own UID, e.g. "{free}"',
        )
        for uid, owner in taken
        if uid == avatar_uid
    ]


def _channel_findings(
    nodes: list[Mapping[str, Any]], properties: Mapping[str, Mapping[str, Any]], avatar: str, avatar_channel: str
) -> list[Finding]:
    findings = []
    for node in nodes:
        channel = properties.get(node["name"], {}).get("channel")
        if is_agora_rtc(node) and isinstance(channel, str) and channel and avatar_channel and channel != avatar_channel:
            findings.append(warning(
                f"{avatar}.channel",
                f"the avatar publishes into channel {avatar_channel!r} but {node['name']} joins {channel!r}; "
                "the user sees no avatar unless the playground sets both at start",
                f"use the same channel on {avatar} and {node['name']}",
            ))
    return findings
