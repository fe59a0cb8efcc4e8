"""Graph JSON -> nodes and forward routes, as the runtime's graph loader expands them.

`source` items and `names` lists are turned into forward routes
(sender, kind, message name) -> receivers. Single mode is a graph of the tester and one
extension where everything either sends goes to the other.

Graph mode takes the graph as given, as the real tester does: the tester is a node of it,
`{"type": "extension", "name": "ten:test_extension", "addon": "ten:test_extension"}` (the
addon makes it the tester; the real runtime accepts another name too, and routes by it),
and it sends and receives only through the graph's connections. A graph without such a
node is refused (the real tester never runs its on_start and blocks in run() forever).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MESSAGE_KINDS = ("cmd", "data", "audio_frame", "video_frame")
# The tester's addon, and its node's name in single mode and in graphs as usually written.
TESTER_NODE = "ten:test_extension"
TESTER_ADDON = "ten:test_extension"


class GraphError(ValueError):
    """A graph the runtime cannot load: fatal for the run."""


@dataclass(frozen=True)
class NodeSpec:
    name: str
    addon: str
    property: dict[str, Any] = field(default_factory=dict)


@dataclass
class GraphSpec:
    nodes: list[NodeSpec]
    # (sender, kind, name) -> receivers, in declaration order without duplicates.
    routes: dict[tuple[str, str, str], list[str]]
    # Single mode: sender -> the one receiver of everything it sends.
    catch_all: dict[str, str] = field(default_factory=dict)
    # The tester's node name (its node's name in graph mode).
    tester: str = TESTER_NODE

    def destinations(self, sender: str, kind: str, name: str) -> list[str]:
        routed = self.routes.get((sender, kind, name))
        if routed:
            return routed
        other = self.catch_all.get(sender)
        return [other] if other else []


def single_mode_graph(addon: str, property_json: str | None) -> GraphSpec:
    try:
        node_property = json.loads(property_json) if property_json else {}
    except ValueError as exc:
        raise GraphError(f"set_test_mode_single: property JSON is invalid: {exc}") from None
    if not isinstance(node_property, dict):
        raise GraphError("set_test_mode_single: the property JSON must be an object")
    return GraphSpec(
        nodes=[NodeSpec(addon, addon, node_property)],
        routes={},
        catch_all={addon: TESTER_NODE, TESTER_NODE: addon},
    )


def parse_graph(graph_json: str) -> GraphSpec:
    try:
        graph = json.loads(graph_json)
    except ValueError as exc:
        raise GraphError(f"graph JSON is invalid: {exc}") from None
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list):
        raise GraphError('a graph is an object with a "nodes" list')
    nodes: list[NodeSpec] = []
    tester: str | None = None
    for raw in graph["nodes"]:
        if not isinstance(raw, dict):
            raise GraphError(f"a node must be an object, not {raw!r}")
        if raw.get("type", "extension") != "extension":
            raise GraphError(f"node {raw.get('name')!r}: only extension nodes are supported")
        name, addon = raw.get("name"), raw.get("addon")
        if not isinstance(name, str) or not isinstance(addon, str):
            raise GraphError(f"node {raw!r} needs a string name and addon")
        if any(node.name == name for node in nodes) or name == tester:
            raise GraphError(f"node name {name!r} is used twice")
        if addon == TESTER_ADDON:
            if tester is not None:
                raise GraphError(
                    f"nodes {tester!r} and {name!r} both have the tester's addon "
                    f"{TESTER_ADDON!r}: a graph has one tester"
                )
            tester = name
            continue  # the tester itself, not an extension to load
        node_property = raw.get("property") or {}
        if not isinstance(node_property, dict):
            raise GraphError(f"node {name!r}: property must be an object")
        nodes.append(NodeSpec(name, addon, node_property))
    if tester is None:
        raise GraphError(
            f"the graph has no tester node: set_test_mode_graph takes the graph as given, so "
            f"it must list {_tester_node_text()} among its nodes (with connections to and "
            "from it for whatever the tester sends or receives). Without it the real tester "
            "never runs on_start and run() blocks forever."
        )
    known = {node.name for node in nodes} | {tester}
    routes: dict[tuple[str, str, str], list[str]] = {}
    for connection in graph.get("connections") or []:
        owner = _known(connection.get("extension"), known, "connection")
        for kind in MESSAGE_KINDS:
            for item in connection.get(kind) or []:
                _add_item_routes(routes, owner, kind, item, known)
    return GraphSpec(nodes=nodes, routes=routes, tester=tester)


def _add_item_routes(
    routes: dict[tuple[str, str, str], list[str]],
    owner: str,
    kind: str,
    item: dict[str, Any],
    known: set[str],
) -> None:
    names = [item["name"]] if "name" in item else list(item.get("names") or [])
    if not names:
        raise GraphError(f"connection of {owner!r}: a {kind} item has no name or names")
    if ("dest" in item) == ("source" in item):
        raise GraphError(f"connection of {owner!r}: {kind} {names} needs dest or source")
    if "dest" in item:
        pairs = [(owner, _known(d.get("extension"), known, "dest")) for d in item["dest"]]
    else:
        pairs = [(_known(s.get("extension"), known, "source"), owner) for s in item["source"]]
    for name in names:
        for sender, receiver in pairs:
            receivers = routes.setdefault((sender, kind, name), [])
            if receiver not in receivers:
                receivers.append(receiver)


def _tester_node_text() -> str:
    return json.dumps({"type": "extension", "name": TESTER_NODE, "addon": TESTER_ADDON})


def _known(name: Any, known: set[str], what: str) -> str:
    if name not in known:
        raise GraphError(f"{what} names extension {name!r}, which is not a node of the graph")
    return name
