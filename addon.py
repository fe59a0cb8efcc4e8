"""Registers the extension with the TEN runtime under the addon name."""

from ten_runtime import Addon, TenEnv, register_addon_as_extension

from .extension import SpatiusAvatarExtension

ADDON_NAME = "spatius_avatar_python"


@register_addon_as_extension(ADDON_NAME)
class SpatiusAvatarExtensionAddon(Addon):
    def on_create_instance(self, ten_env: TenEnv, name: str, context: object) -> None:
        ten_env.log_info(f"creating extension instance '{name}'")
        ten_env.on_create_instance_done(SpatiusAvatarExtension(name), context)
