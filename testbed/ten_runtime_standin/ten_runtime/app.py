"""App: the stand-in's bare app. Like the real tester, each AsyncExtensionTester run
builds a test app of its own (runtime.GraphRuntime, one loop for all its extensions), so
this App hosts no extensions: it runs its configure/init/deinit callbacks and blocks in
run(False) until close(), which is what a test session's fixture needs.

As in the real runtime, an App belongs to the thread that created it: run() from any
other thread fails (the real one logs "Access object across threads" and aborts the
process). close() may come from any thread. App() takes no arguments, also through a
subclass whose __init__ would take some (the real native constructor aborts the process)."""

from __future__ import annotations

import threading

from .ten_env import EnvTarget, TenEnv


class AppThreadError(RuntimeError):
    """App.run() on a thread other than the one that created the App: fatal in the real
    runtime (SIGABRT), so the stand-in refuses it loudly."""


class App:
    def __new__(cls, *args: object, **kwargs: object) -> "App":
        # The real App is a native type whose constructor takes no arguments, also when a
        # subclass's __init__ would take some: it aborts the process ("Expect 0 argument").
        if args or kwargs:
            raise TypeError(
                f"{cls.__name__}(...) was given constructor arguments: a TEN App takes none, "
                "not even through a subclass (the real runtime aborts the process: "
                "'ten_py_app_create ... Expect 0 argument'). Set attributes after construction."
            )
        return super().__new__(cls)

    def __init__(self, *args: object, **kwargs: object) -> None:  # __new__ refuses arguments
        self._closed = threading.Event()
        self._finished = threading.Event()
        self._owner = threading.current_thread()

    def on_configure(self, ten_env: TenEnv) -> None:
        ten_env.on_configure_done()

    def on_init(self, ten_env: TenEnv) -> None:
        ten_env.on_init_done()

    def on_deinit(self, ten_env: TenEnv) -> None:
        ten_env.on_deinit_done()

    def run(self, run_in_background: bool) -> None:
        caller = threading.current_thread()
        if caller is not self._owner:
            raise AppThreadError(
                f"App.run() was called on thread {caller.name!r}, but this App was created on "
                f"thread {self._owner.name!r}: a TEN App belongs to the thread that creates it "
                "(the real runtime logs 'Access object across threads ... ten_py_app_run ... "
                "Invalid argument' and aborts the process). Create the App inside the thread "
                "that runs it."
            )
        env = TenEnv(EnvTarget(None, "app"))
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
