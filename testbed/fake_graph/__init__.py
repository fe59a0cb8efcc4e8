"""Scripted peer nodes for graph tests: `fake_tts`, `fake_main_control`, `fake_sink`.

Importing this package registers the three addons. Their records live in the
process-wide `registry`, keyed by node name; `run_graph_until` runs a graph until a
predicate over the records holds. Every graph a tester runs lists `the_tester_node()`.
"""

from . import main_control, sink, tts  # noqa: F401 - importing registers the addons
from .harness import GraphOutcome, check_tester_node, run_graph_until, the_tester_node
from .records import NodeRecord, ReceivedMessage, Registry, SentData, SentFrame, registry

__all__ = [
    "GraphOutcome",
    "run_graph_until",
    "the_tester_node",
    "check_tester_node",
    "NodeRecord",
    "ReceivedMessage",
    "Registry",
    "SentData",
    "SentFrame",
    "registry",
]
