"""Addon: the base class of an extension's addon (see addon_manager for registration)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ten_env import TenEnv


class Addon:
    def on_create_instance(self, ten_env: "TenEnv", name: str, context: object) -> None:
        raise NotImplementedError("an addon must implement on_create_instance")
