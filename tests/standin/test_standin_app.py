"""The App belongs to the thread that creates it: run() from another thread fails loudly (the
real runtime aborts the process: "Access object across threads ... ten_py_app_run")."""

import threading

import pytest

pytest.importorskip("ten_runtime.standin", reason="tests of the TEN stand-in itself")

from ten_runtime import App, TenEnv  # noqa: E402
from ten_runtime.app import AppThreadError  # noqa: E402


class RecordingApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.inited = threading.Event()
        self.deinited = threading.Event()

    def on_init(self, ten_env: TenEnv) -> None:
        self.inited.set()
        ten_env.on_init_done()

    def on_deinit(self, ten_env: TenEnv) -> None:
        self.deinited.set()
        ten_env.on_deinit_done()


def run_in_thread(target) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def body() -> None:
        try:
            target()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            errors.append(error)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, errors


def test_an_app_created_on_one_thread_cannot_run_on_another():
    app = RecordingApp()  # created here, on the test's thread
    thread, errors = run_in_thread(lambda: app.run(False))
    thread.join(10)
    assert not thread.is_alive()
    (error,) = errors
    assert isinstance(error, AppThreadError)
    assert "Access object across threads" in str(
        error
    ) and "Create the App inside the thread" in str(error)
    assert not app.inited.is_set()  # nothing of the app ran


def test_an_app_created_and_run_on_its_thread_runs_and_closes_from_any_thread():
    holder: list[RecordingApp] = []
    created = threading.Event()

    def create_and_run() -> None:
        holder.append(RecordingApp())
        created.set()
        holder[0].run(False)

    thread, errors = run_in_thread(create_and_run)
    assert created.wait(10) and holder[0].inited.wait(10), errors
    holder[0].close()  # from the test's thread
    thread.join(10)
    assert not thread.is_alive() and not errors
    assert holder[0].deinited.is_set()


def test_an_app_takes_no_constructor_arguments_even_through_a_subclass():
    class WithArgument(App):
        def __init__(self, started: threading.Event) -> None:
            super().__init__()
            self.started = started

    with pytest.raises(TypeError, match="Expect 0 argument"):
        WithArgument(threading.Event())
    assert isinstance(RecordingApp(), App)
