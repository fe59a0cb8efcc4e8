"""The avatar's place in a graph: which messages reach it, and what must not happen."""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from ..config import parse_uid
from .findings import Finding, error, note, warning

MESSAGE_KINDS = ("cmd", "data", "audio_frame", "video_frame")
END_OF_SPEECH = ("tts_audio_end", "finalize")


class Route(NamedTuple):
    kind: str
    name: str
    src: str
    dst: str


class Origin(NamedTuple):
    """Where the graph file writes a route: the connection block of `owner`, its `kind`
    list, and whether the item names the other end in `dest` or in `source`."""

    owner: str
    kind: str
    form: str  # "dest" or "source"


def route_origins(graph: Mapping[str, Any]) -> dict[Route, list[Origin]]:
    """Every route as `src -> dst` (`source` items and `names` lists expanded), with where
    the file writes it."""
    routes: dict[Route, list[Origin]] = {}
    for connection in graph.get("connections") or []:
        owner = connection.get("extension") if isinstance(connection, Mapping) else None
        if not owner:
            continue  # subgraph and selector connections do not concern the avatar
        for kind in MESSAGE_KINDS:
            for item in connection.get(kind) or []:
                if not isinstance(item, Mapping):
                    continue
                names = ([item["name"]] if "name" in item else []) + list(item.get("names") or [])
                dests = [
                    d["extension"]
                    for d in item.get("dest") or []
                    if isinstance(d, Mapping) and "extension" in d
                ]
                sources = [
                    s["extension"]
                    for s in item.get("source") or []
                    if isinstance(s, Mapping) and "extension" in s
                ]
                for name in names:
                    for dst in dests:
                        routes.setdefault(Route(kind, name, owner, dst), []).append(
                            Origin(owner, kind, "dest")
                        )
                    for src in sources:
                        routes.setdefault(Route(kind, name, src, owner), []).append(
                            Origin(owner, kind, "source")
                        )
    return routes


def forward_routes(graph: Mapping[str, Any]) -> set[Route]:
    """Every route as `src -> dst`, with `source` items and `names` lists expanded."""
    return set(route_origins(graph))


def is_agora_rtc(node: Mapping[str, Any]) -> bool:
    return str(node.get("addon", "")).startswith("agora_rtc")


def _uid(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    return parse_uid(value) if isinstance(value, str) else None


def _connection(graph: Mapping[str, Any], owner: str) -> Mapping[str, Any] | None:
    for connection in graph.get("connections") or []:
        if isinstance(connection, Mapping) and connection.get("extension") == owner:
            return connection
    return None


def _names_of(item: Mapping[str, Any]) -> list[str]:
    return ([item["name"]] if "name" in item else []) + list(item.get("names") or [])


def route_fix(graph: Mapping[str, Any], owner: str, kind: str, name: str, dst: str) -> str:
    """How to add the route `owner --kind name--> dst`, in the graph's own blocks: extend the
    item that already routes that message, else add an item to the owner's block, else add
    the block."""
    connection = _connection(graph, owner)
    target = {"extension": dst}
    names = node_names(graph)
    if connection is None:
        return "add this connection: " + json.dumps(
            {"extension": owner, kind: [{"name": name, "dest": [target]}]}
        )
    for item in connection.get(kind) or []:
        if (
            isinstance(item, Mapping)
            and name in _names_of(item)
            and isinstance(item.get("dest"), list)
        ):
            kept = [d for d in item["dest"] if not _names_no_node(d, names)]
            changed = {**item, "dest": [*kept, target]}
            dropped = [d["extension"] for d in item["dest"] if d not in kept]
            why = (
                f" ({', '.join(json.dumps(d) for d in dropped)} is not a node of the graph)"
                if dropped
                else ""
            )
            return (
                f"in the connection of {owner}, add {json.dumps(target)} to the dest of its {kind} "
                f"{name} route: {json.dumps(changed)}{why}"
            )
    item = {"name": name, "dest": [target]}
    return f'in the connection of {owner}, add to its "{kind}" list: {json.dumps(item)}'


def _removal_fix(graph: Mapping[str, Any], route: Route, origins: list[Origin]) -> str:
    """How to remove the route `route`, where the file writes it."""
    fixes = []
    for origin in origins:
        other = {"extension": route.dst if origin.form == "dest" else route.src}
        connection = _connection(graph, origin.owner) or {}
        for item in connection.get(origin.kind) or []:
            if (
                not isinstance(item, Mapping)
                or route.name not in _names_of(item)
                or other not in (item.get(origin.form) or [])
            ):
                continue
            ends = item.get(origin.form) or []
            where = f"the connection of {origin.owner}"
            if len(_names_of(item)) == 1 and len(ends) == 1:
                fixes.append(f"remove the {origin.kind} item {json.dumps(item)} from {where}")
            elif len(ends) == 1:
                fixes.append(
                    f'take "{route.name}" out of the names of the {origin.kind} item {json.dumps(item)} in {where}'
                )
            elif len(_names_of(item)) == 1:
                fixes.append(
                    f"remove {json.dumps(other)} from the {origin.form} of the {origin.kind} {route.name} item in {where}"
                )
            else:
                fixes.append(
                    f'in {where}, route "{route.name}" in an item of its own without {json.dumps(other)} '
                    f"(the item {json.dumps(item)} routes several messages)"
                )
    return "; and ".join(dict.fromkeys(fixes)) or "remove the route"


def node_names(graph: Mapping[str, Any]) -> set[str]:
    return {
        str(n["name"]) for n in graph.get("nodes") or [] if isinstance(n, Mapping) and n.get("name")
    }


def _names_no_node(end: Any, names: Collection[str]) -> bool:
    """A dest or source item naming an extension the graph does not have (another app's
    extensions, named with "app", are not this graph's to know)."""
    return (
        isinstance(end, Mapping)
        and "extension" in end
        and "app" not in end
        and end["extension"] not in names
    )


class UnknownEnd(NamedTuple):
    owner: str  # the connection block that names it
    kind: str
    names: tuple[str, ...]  # the messages of the item
    form: str  # "dest", "source" or "extension" (the block's own owner)
    missing: str


def unknown_ends(graph: Mapping[str, Any]) -> Iterator[UnknownEnd]:
    """Every place a connection names a node the graph does not have."""
    names = node_names(graph)
    for connection in graph.get("connections") or []:
        if (
            not isinstance(connection, Mapping)
            or not connection.get("extension")
            or "app" in connection
        ):
            continue
        owner = str(connection["extension"])
        if owner not in names:
            yield UnknownEnd(owner, "", (), "extension", owner)
        for kind in MESSAGE_KINDS:
            for item in connection.get(kind) or []:
                if not isinstance(item, Mapping):
                    continue
                for form in ("dest", "source"):
                    for end in item.get(form) or []:
                        if _names_no_node(end, names):
                            yield UnknownEnd(
                                owner, kind, tuple(_names_of(item)), form, str(end["extension"])
                            )


def closest_node(graph: Mapping[str, Any], missing: str) -> str | None:
    match = difflib.get_close_matches(missing, sorted(node_names(graph)), n=1, cutoff=0.6)
    return match[0] if match else None


def unknown_node_findings(graph: Mapping[str, Any]) -> list[Finding]:
    """Connections naming a node that is not in the graph (often a typo): named as such, with
    a fix that replaces the name instead of keeping it."""
    findings = []
    for end in dict.fromkeys(unknown_ends(graph)):
        match = closest_node(graph, end.missing)
        guess = f' (a typo of "{match}"?)' if match else ""
        wrong = json.dumps({"extension": end.missing})
        if end.form == "extension":
            findings.append(
                error(
                    f"{end.owner} wiring",
                    f'a connection block belongs to "{end.owner}", which is not a node of this graph, '
                    f"so none of its routes exist{guess}",
                    f'write "extension": "{match}" in that block'
                    if match
                    else f'correct its "extension", or add a node named "{end.owner}"',
                )
            )
            continue
        messages = f"{end.kind} {', '.join(end.names)}"
        where = (
            f"{end.owner} -> {end.missing} wiring"
            if end.form == "dest"
            else f"{end.missing} -> {end.owner} wiring"
        )
        findings.append(
            error(
                where,
                f'the {messages} route in the connection of {end.owner} names "{end.missing}" in its {end.form}, '
                f"which is not a node of this graph, so that route carries nothing{guess}",
                f"in the connection of {end.owner}, write {json.dumps({'extension': match})} instead of {wrong}"
                if match
                else f"in the connection of {end.owner}, remove {wrong} from the {end.form} of its {messages} route, "
                f'or add a node named "{end.missing}"',
            )
        )
    return findings


def _guess(nodes: Iterable[Mapping[str, Any]], word: str, default: str) -> str:
    found = [
        n["name"]
        for n in nodes
        if word in str(n.get("name", "")) or word in str(n.get("addon", ""))
    ]
    return found[0] if len(found) == 1 else default


# Messages other avatar vendors' graphs route that a Spatius avatar neither takes nor sends,
# and what to say about them.
_LEFTOVER_HINTS = {
    (
        "in",
        "data",
        "tts_text_input",
    ): "the Spatius avatar speaks the audio the TTS sends it as pcm_frame, not text: "
    "send the text to the TTS node",
    (
        "out",
        "audio_frame",
        "pcm_frame",
    ): "with Agora egress the Spatius Motion Server publishes the agent's voice "
    "into the channel itself",
    (
        "out",
        "video_frame",
        "video_frame",
    ): "a Spatius avatar sends no video: the Motion Server publishes motion data, "
    "and the client renders the avatar",
}


def wiring_findings(
    graph: Mapping[str, Any],
    avatar: str,
    properties: Mapping[str, Mapping[str, Any]],
    avatar_uid: int | None,
    avatar_channel: str,
    declared: Mapping[str, Collection[str]] | None = None,
    injected: Collection[str] = (),
) -> list[Finding]:
    """Problems in how `avatar` is wired; `properties` are the nodes' resolved properties,
    `declared` the message names of the manifest's api ({"cmd_in": [...], ...}) and
    `injected` the nodes whose channel the TEN agent server fills in at start."""
    nodes = [n for n in graph.get("nodes") or [] if isinstance(n, Mapping) and n.get("name")]
    by_name = {n["name"]: n for n in nodes}
    # A route to a misspelt avatar ("avtar") is reported once, as the typo it is
    # (unknown_node_findings), not again as a missing route.
    typos = {
        end.missing for end in unknown_ends(graph) if closest_node(graph, end.missing) == avatar
    }
    origins: dict[Route, list[Origin]] = {}
    for written, where_written in route_origins(graph).items():
        route = written._replace(
            src=avatar if written.src in typos else written.src,
            dst=avatar if written.dst in typos else written.dst,
        )
        origins.setdefault(route, []).extend(where_written)
    routes = set(origins)
    into = {r for r in routes if r.dst == avatar}
    out = {r for r in routes if r.src == avatar}
    where = f"{avatar} wiring"
    findings: list[Finding] = []

    audio_sources = sorted(
        {r.src for r in into if r.kind == "audio_frame" and r.name == "pcm_frame"}
    )
    tts_name = _guess(nodes, "tts", "<tts node>")
    if not audio_sources:
        findings.append(
            error(
                where,
                "no audio_frame pcm_frame is routed to the avatar: it never gets the agent's voice",
                f"route the TTS node's pcm_frame to it: {route_fix(graph, tts_name, 'audio_frame', 'pcm_frame', avatar)}",
            )
        )
    for src in audio_sources:
        if src in by_name and is_agora_rtc(by_name[src]):
            findings.append(
                error(
                    where,
                    f"pcm_frame from {src} (agora_rtc: the user's microphone) is routed to the avatar, "
                    "so it would lip-sync the user",
                    f"route pcm_frame to {avatar} only from the TTS node: "
                    + _removal_fix(
                        graph,
                        Route("audio_frame", "pcm_frame", src, avatar),
                        origins[Route("audio_frame", "pcm_frame", src, avatar)],
                    ),
                )
            )
    for route in sorted(routes):
        if route.kind == "audio_frame" and route.name == "pcm_frame" and route.src in audio_sources:
            target = by_name.get(route.dst)
            if (
                target is not None
                and is_agora_rtc(target)
                and not is_agora_rtc(by_name.get(route.src, {}))
            ):
                findings.append(
                    error(
                        f"{route.src} -> {route.dst} wiring",
                        f"the TTS audio (pcm_frame from {route.src}) goes to both {avatar} and the agora_rtc node "
                        f"{route.dst}: the user hears the voice twice (Spatius publishes it into the channel)",
                        _removal_fix(graph, route, origins[route]),
                    )
                )

    if not any(r.kind == "data" and r.name in END_OF_SPEECH for r in into):
        findings.append(
            error(
                where,
                "neither data tts_audio_end nor finalize is routed to the avatar: it cannot tell "
                "when the agent's speech is complete, so the avatar's last words are cut or delayed",
                f"route tts_audio_end (and tts_audio_start) from the TTS node: "
                f"{route_fix(graph, tts_name, 'data', 'tts_audio_end', avatar)}",
            )
        )
    if not any(r.kind == "data" and r.name == "tts_audio_start" for r in into):
        end_sources = sorted({r.src for r in into if r.kind == "data" and r.name in END_OF_SPEECH})
        findings.append(
            note(
                where,
                "data tts_audio_start is not routed to the avatar: it works, but after a barge-in it can tell the "
                "next answer from the tail of the interrupted one only by a pause in the audio (300 ms); with "
                "tts_audio_start's request_id it knows exactly",
                "route tts_audio_start from the TTS node: "
                + route_fix(
                    graph, (end_sources or [tts_name])[0], "data", "tts_audio_start", avatar
                ),
            )
        )
    if not any(r.kind == "cmd" and r.name == "flush" for r in into):
        flushers = sorted(
            {r.src for r in routes if r.kind == "cmd" and r.name == "flush" and r.src != avatar}
        )
        # The node that already interrupts the TTS is the one to interrupt the avatar too.
        of_tts = [f for f in flushers if Route("cmd", "flush", f, tts_name) in routes]
        control = (
            of_tts
            or [f for f in flushers if "control" in f]
            or flushers
            or [_guess(nodes, "control", "<the node that handles interruptions>")]
        )[0]
        findings.append(
            error(
                where,
                "cmd flush is not routed to the avatar: when the user interrupts, the avatar keeps speaking",
                f"route flush to it: {route_fix(graph, control, 'cmd', 'flush', avatar)}",
            )
        )
    for name, plural in (("error", "errors"), ("metrics", "metrics")):
        if not any(r.kind == "data" and r.name == name for r in out):
            findings.append(
                warning(
                    where,
                    f"the avatar's data {name} goes nowhere, so its {plural} are lost",
                    f"route it: {route_fix(graph, avatar, 'data', name, _guess(nodes, 'control', 'main_control'))}",
                )
            )
    if declared is not None:
        findings += _undeclared_findings(graph, avatar, into | out, origins, declared)

    findings += _uid_findings(nodes, properties, avatar, avatar_uid)
    findings += _channel_findings(nodes, properties, avatar, avatar_channel, set(injected))
    return findings


def _undeclared_findings(
    graph: Mapping[str, Any],
    avatar: str,
    routes: set[Route],
    origins: Mapping[Route, list[Origin]],
    declared: Mapping[str, Collection[str]],
) -> list[Finding]:
    """Routes of messages to or from the avatar that its manifest does not declare: the
    avatar ignores what comes in and never sends what goes out (often what is left of
    another avatar vendor's wiring)."""
    findings = []
    for route in sorted(routes):
        direction = "in" if route.dst == avatar else "out"
        if route.name in declared.get(f"{route.kind}_{direction}", ()):
            continue
        hint = _LEFTOVER_HINTS.get((direction, route.kind, route.name))
        if direction == "in":
            what = (
                f"{route.src} sends {route.kind} {route.name} to the avatar, which does not take it (manifest.json "
                f"declares no {route.kind}_in {route.name}): whatever {route.src} expects of it does not happen"
            )
        else:
            what = (
                f"the avatar never sends {route.kind} {route.name} (manifest.json declares no {route.kind}_out "
                f"{route.name}), so the route to {route.dst} carries nothing"
            )
        if hint:
            what += f"; {hint}"
        findings.append(
            warning(
                f"{route.src} -> {route.dst} wiring",
                what,
                "if it is left over from another avatar's wiring: "
                + _removal_fix(graph, route, origins[route]),
            )
        )
    return findings


def _uid_findings(
    nodes: list[Mapping[str, Any]],
    properties: Mapping[str, Mapping[str, Any]],
    avatar: str,
    avatar_uid: int | None,
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
    free = next(
        candidate for candidate in range(2001, 2001 + len(used) + 1) if candidate not in used
    )
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
    nodes: list[Mapping[str, Any]],
    properties: Mapping[str, Mapping[str, Any]],
    avatar: str,
    avatar_channel: str,
    injected: set[str],
) -> list[Finding]:
    findings = []
    for node in nodes:
        if (
            is_agora_rtc(node)
            and node["name"] in injected
            and avatar not in injected
            and avatar_channel
        ):
            findings.append(
                warning(
                    f"{avatar}.channel",
                    f"the TEN agent server puts {node['name']} into each session's own channel, but the avatar's property "
                    f'has no "channel" key, so it always publishes into {avatar_channel!r} '
                    "and the user sees no avatar",
                    f'add "channel": "" to the property of {avatar}: the server then injects the session\'s channel there too',
                )
            )
            continue
        channel = properties.get(node["name"], {}).get("channel")
        if (
            is_agora_rtc(node)
            and isinstance(channel, str)
            and channel
            and avatar_channel
            and channel != avatar_channel
        ):
            findings.append(
                warning(
                    f"{avatar}.channel",
                    f"the avatar publishes into channel {avatar_channel!r} but {node['name']} joins {channel!r}; "
                    "the user sees no avatar unless the playground sets both at start",
                    f"use the same channel on {avatar} and {node['name']}",
                )
            )
    return findings
