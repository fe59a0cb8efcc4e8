"""App: the stand-in's bare app. Like the real tester, each AsyncExtensionTester run
builds a test app of its own (runtime.GraphRuntime, one loop for all its extensions), so
this App hosts no extensions: it runs its configure/init/deinit callbacks and blocks in
run(False) until close(), which is what a test session's fixture needs."""

from __future__ import annotations

import threading

from .ten_env import TenEnv


class App:
    def __init__(self) -> None:
        self._closed = threading.Event()
        self._finished = threading.Event()

    def on_configure(self, ten_env: TenEnv) -> None:
        ten_env.on_configure_done()

    def on_init(self, ten_env: TenEnv) -> None:
        ten_env.on_init_done()

    def on_deinit(self, ten_env: TenEnv) -> None:
        ten_env.on_deinit_done()

    def run(self, run_in_background: bool) -> None:
        env = TenEnv(None, "app")
        self.on_configure(env)
        self.on_init(env)
        if run_in_background:
            threading.Thread(target=self._wait_and_deinit, args=(env,), daemon=True).start()
        else:
            self._wait_and_deinit(env)

    def _wait_and_deinit(self, env: TenEnv) -> None:
        self._closed.wait()
        try:
            self.on_deinit(env)
        finally:
            self._finished.set()

    def close(self) -> None:
        self._closed.set()

    def wait(self) -> None:
        self._finished.wait()
