"""The addon `standin_typed_extension`. A TEN app loads it from its extension folder
(<app>/ten_packages/extension/standin_typed_extension, where the tests put it), so its
manifest.json applies. On start it sends data `typed` with `x` as a string (a misfit of its int32 schema) and
sends the error it got to the tester as data `send_error` (property `message`)."""

from ten_runtime import (
    Addon,
    AsyncExtension,
    AsyncTenEnv,
    Data,
    SendOptions,
    register_addon_as_extension,
)

ADDON = "standin_typed_extension"


class TypedExtension(AsyncExtension):
    async def on_start(self, ten_env: AsyncTenEnv) -> None:
        typed = Data.create("typed")
        typed.set_property_string("x", "not a number")
        error = await ten_env.send_data(typed, SendOptions(wait_for_result=True))
        report = Data.create("send_error")
        report.set_property_string("message", "" if error is None else error.error_message())
        await ten_env.send_data(report)


@register_addon_as_extension(ADDON)
class TypedExtensionAddon(Addon):
    def on_create_instance(self, ten_env, name, context):
        ten_env.on_create_instance_done(TypedExtension(name), context)
