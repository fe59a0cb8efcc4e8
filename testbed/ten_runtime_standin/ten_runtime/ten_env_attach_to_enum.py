"""What a TenEnv is attached to (values as the real enum)."""

from enum import IntEnum


class _TenEnvAttachTo(IntEnum):
    EXTENSION = 1
    EXTENSION_GROUP = 2
    APP = 3
    ADDON = 4
