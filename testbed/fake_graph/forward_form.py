"""A graph's connections in the one form every TEN runtime routes: forward `dest` items
with a single `name` each.

A full TEN runtime expands `source` items and `names` lists itself (its graph loader does
that in the Rust part); a runtime built without it routes only the forward, single-name
form. Tests that run a user's graph as written give it in this form, so the same test
holds on both, and check that nothing was lost in the rewrite.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spatius_avatar_python.cli.wiring import MESSAGE_KINDS, forward_routes


def forward_form(graph: Mapping[str, Any]) -> dict[str, Any]:
    """The same graph with every route written as `src: {kind: [{name, dest: [dst, ...]}]}`."""
    by_source: dict[str, dict[str, dict[str, list[str]]]] = {}
    for route in sorted(forward_routes(graph)):
        dests = (
            by_source.setdefault(route.src, {})
            .setdefault(route.kind, {})
            .setdefault(route.name, [])
        )
        dests.append(route.dst)
    connections = []
    for src, kinds in by_source.items():
        connection: dict[str, Any] = {"extension": src}
        for kind in MESSAGE_KINDS:
            if kind in kinds:
                connection[kind] = [
                    {"name": name, "dest": [{"extension": dst} for dst in dsts]}
                    for name, dsts in kinds[kind].items()
                ]
        connections.append(connection)
    return {**graph, "connections": connections}
