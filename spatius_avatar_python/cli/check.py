"""`check`: will this avatar configuration start, and is the avatar wired right?

Validates the avatar node's properties exactly as the TEN runtime will see them (the
node's `property` deep-merged over this extension's property.json, `${env:...}` resolved)
against the official TEN schemas, manifest.json's declared types and the extension's own
configuration rules, then the avatar's routes in the graph.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ..config import (
    ConfigError,
    ConfigProblem,
    is_documented_region,
    is_region_name,
    load_config,
    params_of,
    parse_uid,
    region_rule,
    upstream_migration,
)
from .declared_types import declared_type_findings
from .findings import Finding, Masker, error, warning
from .paths import MANIFEST_FILE, PROPERTY_FILE
from .paths import schema_dir as default_schema_dir
from .properties import (
    EnvUse,
    Resolved,
    deep_merge,
    defines,
    is_secret_name,
    join,
    read_env_file,
    resolve_env,
    secret_values,
)
from .ten_schemas import TenSchemas, load_schemas
from .secrets_in_files import KnownVariables, literal_secret_findings, placeholder_variables
from .avatars_together import Publishers, agora_project_findings
from .wiring import unknown_node_findings, wiring_findings

ADDON = "spatius_avatar_python"
# Config problems whose cause may be an empty env variable at another path too.
_RELATED_PATHS = {
    "params.agora_token": ("params.agora_token", "params.agora_appcert"),
    "params.agora_channel": ("channel", "params.agora_channel"),
}


class Kind(Enum):
    PROPERTY = "property file"
    GRAPH = "graph"
    APP = "app property.json"
    CONVO_AI = "Convo AI request"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    masker: Masker = field(default_factory=Masker)

    @property
    def errors(self) -> int:
        return sum(f.level == "ERROR" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.level == "WARN" for f in self.findings)

    def lines(self, label: str) -> list[str]:
        out = [f.line() for f in self.findings] + [f"NOTE {note}" for note in self.notes]
        verdict = "FAILED" if self.errors else "OK"
        checked = f" (checked: {', '.join(self.checked)})" if self.checked else ""
        out.append(
            f"{verdict} {label}: {self.errors} problem(s), {self.warnings} warning(s){checked}"
        )
        return [self.masker(line) for line in out]


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "check",
        help="validate the avatar's properties and wiring before starting a TEN app",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Prints one line per problem (ERROR) or warning (WARN), then a summary; "
        "exits 1 when there are problems. Secret values are never printed.",
    )
    given = parser.add_mutually_exclusive_group()
    given.add_argument(
        "file",
        nargs="?",
        type=Path,
        help="a property, graph, app property.json or Convo AI request file (recognised by its content)",
    )
    given.add_argument(
        "--property",
        type=Path,
        metavar="FILE",
        help="a node's property object, or the extension's property.json",
    )
    given.add_argument(
        "--graph",
        type=Path,
        metavar="FILE",
        help='a graph ({"nodes", "connections"}) or an app property.json with ten.predefined_graphs',
    )
    parser.add_argument(
        "--node",
        metavar="NAME",
        help=f'the avatar node (default: every node with "addon": "{ADDON}")',
    )
    parser.add_argument(
        "--channel",
        metavar="NAME",
        help="check as if the TEN agent server had injected this session channel into every node whose property "
        'has a "channel" key (as it does at start; without this option an empty "channel" there is a note)',
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        metavar="FILE",
        help="KEY=VALUE variables (a .env file) used for ${env:...} on top of the current environment",
    )
    parser.add_argument(
        "--schema-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="the official TEN JSON schemas: a TEN Framework checkout's core/src/ten_rust/src/json_schema/data/ "
        "as it is (default: $TEN_SCHEMA_DIR; without either the schema check is skipped with a note)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path = args.file or args.property or args.graph
    expected = Kind.PROPERTY if args.property else (Kind.GRAPH if args.graph else None)
    report = check(
        path,
        expected=expected,
        node=args.node,
        env_file=args.env_file,
        schema_dir=args.schema_dir,
        channel=args.channel,
    )
    for line in report.lines(
        str(path) if path else f"{PROPERTY_FILE.name} (the extension's defaults)"
    ):
        print(line)
    return 1 if report.errors else 0


def check(
    path: Path | None,
    *,
    expected: Kind | None = None,
    node: str | None = None,
    env_file: Path | None = None,
    schema_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    channel: str | None = None,
) -> Report:
    """Everything `check` finds in `path` (None: the extension's own property.json)."""
    report = Report()
    env = dict(os.environ if environ is None else environ)
    if env_file is not None:
        try:
            env.update(read_env_file(env_file))
        except (OSError, ValueError) as exc:
            report.findings.append(
                error(
                    str(env_file),
                    f"cannot read the env file: {exc}",
                    "give a readable KEY=VALUE file",
                )
            )
            return report
        report.masker.add(v for k, v in env.items() if is_secret_name(k))
    own = _load_own_files(report)
    if own is None:
        return report
    manifest, defaults_raw = own
    document = defaults_raw if path is None else _load_json(path, report)
    if document is None:
        return report
    kind = detect_kind(document)
    if expected is Kind.GRAPH and kind not in (Kind.GRAPH, Kind.APP):
        report.findings.append(
            error(
                str(path),
                "no graph found (neither nodes nor ten.predefined_graphs)",
                "pass a graph file, or use --property for a property file",
            )
        )
        return report
    if expected is Kind.PROPERTY:
        kind = Kind.PROPERTY

    schemas = load_schemas(schema_dir or default_schema_dir())
    if isinstance(schemas, str):
        report.notes.append(f"TEN schema check skipped: {schemas}")
    else:
        _schema_check(
            schemas, manifest, defaults_raw, document, kind, str(path or PROPERTY_FILE.name), report
        )

    defaults = resolve_env(defaults_raw, env)
    _report_missing_env(defaults, "property.json (extension defaults)", report)
    report.masker.add(secret_values(defaults))
    checker = _AvatarChecker(
        manifest.get("api", {}).get("property", {}), defaults, env, report, channel
    )
    if kind is Kind.PROPERTY:
        _report_missing_env(resolve_env(document, env), "", report)
        if path is not None:
            report.findings += literal_secret_findings(
                document, "", avatar=True, known=placeholder_variables(defaults_raw)
            )
        checker.check(document, "")
        report.checked.append("avatar properties")
    elif kind is Kind.CONVO_AI:
        _check_convo_ai(document, checker, env, report)
    else:
        graphs = [("", document)] if kind is Kind.GRAPH else predefined_graphs(document)
        declared = _declared_messages(manifest)
        known = KnownVariables(
            graphs, {ADDON: defaults_raw}, path.parent if path is not None else None
        )
        found = sum(
            _check_graph(graph, name, node, checker, env, report, declared, known)
            for name, graph in graphs
        )
        if not found:
            report.findings.append(_no_avatar_finding(str(path), graphs, node))
    return report


class _AvatarChecker:
    """One avatar node's merged properties: declared types, then the configuration rules."""

    def __init__(
        self,
        declared: Mapping[str, Any],
        defaults: Resolved,
        env: Mapping[str, str],
        report: Report,
        channel: str | None = None,
    ) -> None:
        self.declared = {"type": "object", **declared}
        self.defaults = defaults
        self.examples = dict(_flatten(defaults.value))
        self.env = env
        self.report = report
        self.channel = channel  # --channel: what the TEN agent server would inject

    def check(self, raw: Any, where: str) -> dict[str, Any]:
        """Report the node's problems under `where`; return its merged, resolved properties."""
        raw = raw if isinstance(raw, Mapping) else {}
        injected = "channel" in raw  # the TEN agent server fills in a channel key at start
        if injected and self.channel is not None:
            raw = {**raw, "channel": self.channel}
            self.report.notes.append(
                f"{join(where, 'channel')}: checked with the channel {self.channel!r} injected, as the TEN agent server does at start"
            )
        node = resolve_env(raw, self.env)
        merged = deep_merge(self.defaults.value, node.value)
        uses = {u.path: u for u in self.defaults.uses if not defines(raw, u.path)}
        uses.update({u.path: u for u in node.uses})
        self.report.masker.add(secret_values(Resolved(merged, list(uses.values()))))

        typed = declared_type_findings(
            merged, self.declared, examples=self.examples, from_env=uses.keys()
        )
        mistyped = {f.where for f in typed if f.level == "ERROR"}
        findings = [_migration(f, raw) for f in typed]
        findings += _region_findings(merged)
        try:
            load_config(merged)
        except ConfigError as exc:
            for problem in exc.problems:
                if any(problem.path == p or problem.path.startswith(p + ".") for p in mistyped):
                    continue  # already reported, with the runtime's consequence
                if (use := uses.get(problem.path)) and use.stops_app:
                    continue  # the unset variable is reported: the app would not even start
                if problem.path == "params.agora_channel":
                    if injected:
                        self.report.notes.append(
                            f'{join(where, "channel")} is "": the TEN agent server fills in the session\'s channel at start '
                            '(on every node whose property has a "channel" key), so it is checked as if it had; '
                            "outside the playground set params.agora_channel. --channel NAME checks with a channel"
                        )
                        continue
                    findings.append(
                        error(
                            problem.path,
                            problem.message,
                            _env_fix(problem, uses)
                            or (
                                'set params.agora_channel, or add "channel": "" to the avatar node\'s property so that '
                                "the TEN agent server injects each session's channel at start"
                            ),
                        )
                    )
                    continue
                findings.append(
                    error(problem.path, problem.message, _env_fix(problem, uses) or problem.fix)
                )
        self.report.findings += [f.at(where) for f in findings]
        return merged


def _migration(finding: Finding, raw: Mapping[str, Any]) -> Finding:
    """An undeclared top-level property that upstream's extension reads: say where it goes here."""
    if (
        finding.level != "WARN"
        or "." in finding.where
        or (upstream := upstream_migration(finding.where, raw)) is None
    ):
        return finding
    return warning(finding.where, *upstream)


def _region_findings(merged: Mapping[str, Any]) -> list[Finding]:
    params = params_of(merged)
    region = params.get("region")
    endpoints = merged.get("console_endpoint_url") or merged.get("ingress_endpoint_url")
    if (
        not isinstance(region, str)
        or not is_region_name(region)
        or is_documented_region(region)
        or endpoints
    ):
        return []
    return [
        warning(
            "params.region",
            f"{region.strip()!r} is not a region Spatius documents: if it does not exist, every session "
            "fails to connect (connectionFailed)",
            region_rule() + ", as Spatius gave it to you",
        )
    ]


def _env_fix(problem: ConfigProblem, uses: Mapping[str, EnvUse]) -> str | None:
    """For a value left empty by an ${env:...} placeholder: which variable to set."""
    empty = [
        u
        for p in _RELATED_PATHS.get(problem.path, (problem.path,))
        if (u := uses.get(p)) and not u.result.strip()
    ]
    if not empty:
        return None
    fixes = []
    for use in empty:
        state = "is not set" if use.value is None else "is set but empty"
        fixes.append(
            f"set the environment variable {use.var} ({use.path} reads {use.text} and {use.var} {state})"
        )
    fix = "; or ".join(fixes)
    if problem.path == "params.agora_token":
        fix += "; or give a ready token in params.agora_token"
    return fix


def _check_graph(
    graph: Any,
    graph_name: str,
    node: str | None,
    checker: _AvatarChecker,
    env: Mapping[str, str],
    report: Report,
    declared: Mapping[str, set[str]],
    known: KnownVariables,
) -> int:
    """Check the avatar nodes of one graph; return how many there were."""
    if not isinstance(graph, Mapping):
        return 0
    nodes = [
        n
        for n in graph.get("nodes") or []
        if isinstance(n, Mapping) and n.get("type", "extension") == "extension"
    ]
    avatars = [n for n in nodes if (n.get("name") == node if node else n.get("addon") == ADDON)]
    if not avatars:
        return 0
    prefix = f"{graph_name}/" if graph_name else ""
    other_vendor = [a for a in avatars if a.get("addon") != ADDON]
    for avatar in other_vendor:  # --node named a node of another addon: not ours to validate
        report.findings.append(
            error(
                f"{prefix}{avatar.get('name')}",
                f"uses addon {avatar.get('addon')!r}, not {ADDON}: check validates Spatius avatar nodes only",
                f'to swap the avatar vendor, set "addon": "{ADDON}" on it and give it the Spatius property '
                "(see examples/graph.json), then check again",
            )
        )
    avatars = [a for a in avatars if a.get("addon") == ADDON]
    if not avatars:
        return len(other_vendor)
    properties: dict[str, Any] = {}
    injected: set[str] = set()
    for item in nodes:
        raw = item.get("property") if isinstance(item.get("property"), Mapping) else {}
        if "channel" in raw:
            injected.add(str(item.get("name")))
            if checker.channel is not None:
                raw = {**raw, "channel": checker.channel}
        resolved = resolve_env(raw, env)
        _report_missing_env(resolved, f"{prefix}{item.get('name', '?')}", report)
        report.masker.add(secret_values(resolved))
        addon = str(item.get("addon", ""))
        report.findings += literal_secret_findings(
            item.get("property"),
            f"{prefix}{item.get('name', '?')}",
            avatar=addon == ADDON,
            known=known(addon),
        )
        properties[str(item.get("name"))] = resolved.value
    report.findings += [
        dataclasses.replace(f, where=prefix + f.where) for f in unknown_node_findings(graph)
    ]
    publishers = Publishers(properties)
    for avatar in avatars:
        name = str(avatar.get("name"))
        merged = checker.check(avatar.get("property") or {}, f"{prefix}{name}")
        properties[name] = merged
        uid = parse_uid(merged["params"]["agora_uid"]) if _uid_text(merged) else None
        channel = _avatar_channel(merged)
        wiring = wiring_findings(graph, name, properties, uid, channel, declared, injected)
        report.findings += [dataclasses.replace(f, where=prefix + f.where) for f in wiring]
        together = agora_project_findings(nodes, properties, name, merged) + publishers.add(
            name, uid, channel
        )
        report.findings += [dataclasses.replace(f, where=prefix + f.where) for f in together]
        report.checked.append(f"node {prefix}{name}")
    return len(avatars) + len(other_vendor)


def _declared_messages(manifest: Mapping[str, Any]) -> dict[str, set[str]]:
    """The message names manifest.json's api declares, per list (cmd_in, data_out, ...)."""
    api = manifest.get("api") if isinstance(manifest.get("api"), Mapping) else {}
    return {
        f"{kind}_{direction}": {
            item["name"]
            for item in api.get(f"{kind}_{direction}") or []
            if isinstance(item, Mapping) and "name" in item
        }
        for kind in ("cmd", "data", "audio_frame", "video_frame")
        for direction in ("in", "out")
    }


def _no_avatar_finding(label: str, graphs: list[tuple[str, Any]], node: str | None) -> Finding:
    """No avatar node: say which nodes look like another vendor's avatar, and how to swap."""
    if node:
        return error(
            label,
            f"no avatar node named {node!r} in the graph",
            f'name a node with "addon": "{ADDON}" with --node',
        )
    others = [
        f"{f'{name}/' if name else ''}{n.get('name')} ({n.get('addon')})"
        for name, graph in graphs
        if isinstance(graph, Mapping)
        for n in graph.get("nodes") or []
        if isinstance(n, Mapping)
        and "avatar" in f"{n.get('name', '')} {n.get('addon', '')}".lower()
    ]
    if others:
        return error(
            label,
            f'no node with "addon": "{ADDON}"; the avatar nodes here are another vendor\'s: {", ".join(others)}',
            f'to use Spatius, set "addon": "{ADDON}" on the avatar node and give it the Spatius property '
            "(see examples/graph.json); check then reports what else the swap needs",
        )
    return error(
        label,
        f'no avatar node with "addon": "{ADDON}" in the graph',
        "add the avatar node and its connections (see examples/graph.json)",
    )


def _check_convo_ai(
    document: Mapping[str, Any], checker: _AvatarChecker, env: Mapping[str, str], report: Report
) -> None:
    props = document["properties"]
    avatar = props["avatar"]
    where = "properties.avatar"
    if not isinstance(avatar, Mapping) or not isinstance(avatar.get("params"), Mapping):
        report.findings.append(
            error(
                where,
                "has no params object",
                'give properties.avatar {"vendor": "spatius", "params": {...}}',
            )
        )
        return
    if avatar.get("vendor") != "spatius":
        report.findings.append(
            error(
                f"{where}.vendor",
                f'is {avatar.get("vendor")!r}, not "spatius"',
                'set "vendor": "spatius"',
            )
        )
    if avatar.get("enable") is False:
        report.findings.append(
            warning(f"{where}.enable", "is false: Convo AI starts no avatar", "set enable to true")
        )
    resolved = resolve_env(avatar["params"], env)
    if resolved.uses:
        report.notes.append(
            "Convo AI does not resolve ${env:...} placeholders: check resolved them from the environment; "
            "substitute them before sending the request"
        )
    _report_missing_env(resolved, f"{where}.params", report)
    merged = checker.check({"params": avatar["params"]}, where)
    report.checked.append("Convo AI avatar params")
    uid = parse_uid(merged["params"]["agora_uid"]) if _uid_text(merged) else None
    others = [("agent_rtc_uid", props.get("agent_rtc_uid"))] + [
        ("remote_rtc_uids", u) for u in props.get("remote_rtc_uids") or []
    ]
    for key, value in others:
        if (
            uid is not None
            and isinstance(value, (str, int))
            and not isinstance(value, bool)
            and parse_uid(str(value)) == uid
        ):
            report.findings.append(
                error(
                    f"{where}.params.agora_uid",
                    f"{uid} is also properties.{key}: two participants with one UID push each other out of the channel",
                    "give the avatar its own UID, distinct from the agent's and the users'",
                )
            )
    channel = props.get("channel")
    if (
        isinstance(channel, str)
        and channel
        and _avatar_channel(merged)
        and channel != _avatar_channel(merged)
    ):
        report.findings.append(
            warning(
                f"{where}.params.agora_channel",
                f"the avatar publishes into {_avatar_channel(merged)!r} but the agent joins {channel!r}",
                "use the request's channel in params.agora_channel",
            )
        )


def _schema_check(
    schemas: TenSchemas,
    manifest: Any,
    defaults: Any,
    document: Any,
    kind: Kind,
    label: str,
    report: Report,
) -> None:
    report.findings += schemas.check_manifest(manifest, MANIFEST_FILE.name)
    report.findings += schemas.check_property(defaults, PROPERTY_FILE.name)
    if kind in (Kind.PROPERTY, Kind.APP):
        report.findings += schemas.check_property(document, label)
    elif kind is Kind.GRAPH:
        report.findings += schemas.check_graph(document, label)
    else:
        report.notes.append(
            "the TEN schemas do not apply to a Convo AI request; its avatar params were checked"
        )
        return
    report.checked.append("TEN schemas")


def _report_missing_env(resolved: Resolved, where: str, report: Report) -> None:
    for use in resolved.missing():
        report.findings.append(
            error(
                join(where, use.path) if where and use.path else where or use.path,
                f"{use.text} names an environment variable that is not set and has no fallback: "
                "the TEN app logs an error and exits at start",
                f"set {use.var} (in the environment, or in the .env file given with --env-file), "
                f"or give a fallback: ${{env:{use.var}|}}",
            )
        )


def _load_own_files(report: Report) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    manifest = _load_json(MANIFEST_FILE, report)
    defaults = _load_json(PROPERTY_FILE, report)
    if not isinstance(manifest, Mapping) or not isinstance(defaults, Mapping):
        return None
    return manifest, defaults


def _load_json(path: Path, report: Report) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        report.findings.append(
            error(
                str(path),
                f"cannot read the file: {exc.strerror or exc}",
                "give the path of an existing JSON file",
            )
        )
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        report.findings.append(
            error(str(path), f"is not valid JSON: {exc}", "correct the JSON syntax")
        )
    return None


def detect_kind(document: Any) -> Kind:
    if isinstance(document, Mapping):
        if "nodes" in document or "connections" in document:
            return Kind.GRAPH
        if isinstance(document.get("ten"), Mapping) and "predefined_graphs" in document["ten"]:
            return Kind.APP
        if isinstance(document.get("properties"), Mapping) and "avatar" in document["properties"]:
            return Kind.CONVO_AI
    return Kind.PROPERTY


def predefined_graphs(document: Mapping[str, Any]) -> list[tuple[str, Any]]:
    graphs = document["ten"].get("predefined_graphs") or []
    return [
        (str(g.get("name", index)), g.get("graph"))
        for index, g in enumerate(graphs)
        if isinstance(g, Mapping)
    ]


def _uid_text(merged: Mapping[str, Any]) -> bool:
    params = merged.get("params")
    return isinstance(params, Mapping) and isinstance(params.get("agora_uid"), str)


def _avatar_channel(merged: Mapping[str, Any]) -> str:
    params = merged.get("params") if isinstance(merged.get("params"), Mapping) else {}
    for value in (merged.get("channel"), params.get("agora_channel")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _flatten(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        return [item for key, child in value.items() for item in _flatten(child, join(path, key))]
    return [(path, value)]
