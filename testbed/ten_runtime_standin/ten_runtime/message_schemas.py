"""Message checks against a manifest's `api` (cmd_in, cmd_out, data_in, data_out,
audio_frame_in/out, video_frame_in/out), by message name. Names the manifest does not
declare, names declared without a `property` schema, and nodes without a manifest, are
not checked."""

from __future__ import annotations

from typing import Any

from .value_types import ValueTypeError, conform_object, empty_key_path

_KINDS = ("cmd", "data", "audio_frame", "video_frame")


class MessageSchemas:
    def __init__(self, manifest: dict[str, Any] | None) -> None:
        api = (manifest or {}).get("api") or {}
        # (direction, kind, name) -> the declared `property` schema ({} when none).
        self._declared: dict[tuple[str, str, str], dict[str, Any]] = {}
        for kind in _KINDS:
            for direction in ("in", "out"):
                for entry in api.get(f"{kind}_{direction}") or []:
                    self._declared[(direction, kind, entry["name"])] = entry.get("property") or {}
        self.has_manifest = manifest is not None

    def is_declared(self, direction: str, kind: str, name: str) -> bool:
        return (direction, kind, name) in self._declared

    def fatal(self, direction: str, kind: str, name: str, properties: dict[str, Any]) -> str | None:
        """Why checking the message would abort the real process (an empty-string key in
        an object its declared schema validates), or None."""
        schema = self._declared.get((direction, kind, name))
        if not schema:
            return None
        where = empty_key_path(properties, schema)
        if where is None:
            return None
        return (
            f"{kind} '{name}' has an empty-string key \"\" in {where}, which {kind}_{direction} "
            "of the manifest declares a schema for: the real runtime's schema check fails "
            "an assertion there and aborts the whole process (SIGABRT)"
        )

    def misfit(
        self, direction: str, kind: str, name: str, properties: dict[str, Any]
    ) -> str | None:
        """Why the message does not fit its declared schema, or None if it fits or is not
        declared."""
        schema = self._declared.get((direction, kind, name))
        if not schema:
            return None
        try:
            conform_object(properties, schema)
        except ValueTypeError as exc:
            # The real runtime's text: the path from the message's root, e.g.
            # ".x: unsupported conversion from `string` to `int32`".
            return f".{exc}"
        return None
