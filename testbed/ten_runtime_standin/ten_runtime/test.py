"""The synchronous tester and its env. The stand-in runs AsyncExtensionTester only:
ExtensionTester refuses to be built; TenEnvTester is what an AsyncTenEnvTester is built
on, as in the real runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .test_base import TenEnvTesterBase

if TYPE_CHECKING:
    from .node_host import NodeHost


class TenEnvTester(TenEnvTesterBase):
    def __init__(self, internal_obj: "NodeHost") -> None:
        self._host = internal_obj


class ExtensionTester:
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise NotImplementedError("the TEN stand-in supports AsyncExtensionTester only")
