"""TenEnvTesterBase: what every tester env has (stop_test and the log methods)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .error import TenError
from .recording import RunRecord
from .ten_env_base import LogMethods

if TYPE_CHECKING:
    from .node_host import NodeHost


class TenEnvTesterBase(LogMethods):
    _host: "NodeHost"

    def _log_target(self) -> tuple[RunRecord | None, str]:
        return self._host.runtime.record, self._host.name

    def stop_test(self, error: TenError | None = None) -> TenError | None:
        self._host.runtime.request_stop(error)
        return None
