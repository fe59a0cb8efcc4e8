"""What `check` reports: one finding per line, secrets masked."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

MASK = "****"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words


@dataclass(frozen=True)
class Finding:
    level: Literal["ERROR", "WARN", "NOTE"]
    where: str
    what: str
    fix: str

    def at(self, prefix: str) -> Finding:
        """The same finding, located under `prefix` (a node, a graph, a file)."""
        if not prefix:
            return self
        where = f"{prefix}.{self.where}" if self.where else prefix
        return dataclasses.replace(self, where=where)

    def line(self) -> str:
        return f"{self.level} {self.where}: {self.what.rstrip('.')}. Fix: {self.fix}"


def error(where: str, what: str, fix: str) -> Finding:
    return Finding("ERROR", where, what, fix)


def warning(where: str, what: str, fix: str) -> Finding:
    return Finding("WARN", where, what, fix)


def note(where: str, what: str, fix: str) -> Finding:
    """Works as it is, but could work better: printed, not counted."""
    return Finding("NOTE", where, what, fix)


class Masker:
    """Replaces every known secret value in a text, longest first."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        self._secrets.update(s for s in secrets if len(s.strip()) >= MIN_SECRET_LENGTH)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text
