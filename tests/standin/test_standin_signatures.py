"""The public API the project uses has the real runtime's signatures (tests/standin/real_api.py,
read from the real package). Runs under both runtimes: under the real one it checks the
table, on the stand-in that the stand-in matches it."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import pytest

import ten_runtime
from tests.standin.real_api import REAL_SIGNATURES


def _default(value: Any) -> str | None:
    if value is inspect.Parameter.empty:
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    return "<object>"


def _from_signature(signature: inspect.Signature) -> str:
    parts = []
    for parameter in signature.parameters.values():
        prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}.get(
            parameter.kind, ""
        )
        text = prefix + parameter.name
        default = _default(parameter.default)
        if default is not None:
            text += "=" + default
        if parameter.kind == inspect.Parameter.KEYWORD_ONLY:
            text = "kw:" + text
        parts.append(text)
    return "(" + ", ".join(parts) + ")"


def _native_stub_signatures() -> dict[str, dict[str, str]]:
    """The real runtime's native methods have no signature: its .pyi stub gives them."""
    stub = Path(ten_runtime.__file__).parent / "libten_runtime_python.pyi"
    if not stub.is_file():
        return {}
    found: dict[str, dict[str, str]] = {}
    for node in ast.parse(stub.read_text()).body:
        if isinstance(node, ast.ClassDef):
            for function in node.body:
                if isinstance(function, ast.FunctionDef):
                    args = function.args
                    names = [a.arg for a in args.posonlyargs + args.args]
                    defaults = [None] * (len(names) - len(args.defaults)) + [
                        ast.unparse(d) for d in args.defaults
                    ]
                    parts = [
                        n + ("=" + d if d is not None else "") for n, d in zip(names, defaults)
                    ]
                    found.setdefault(node.name, {})[function.name] = "(" + ", ".join(parts) + ")"
    return found


NATIVE = _native_stub_signatures()


def _kind(function: Any) -> str:
    if inspect.isasyncgenfunction(function):
        return "async generator"
    if inspect.iscoroutinefunction(function):
        return "async"
    return "def"


def describe(cls: type, member: str) -> str | None:
    if not hasattr(cls, member):
        return None
    raw = inspect.getattr_static(cls, member)
    if isinstance(raw, (staticmethod, classmethod)):
        raw = raw.__func__
    try:
        return f"{_kind(raw)} {_from_signature(inspect.signature(raw))}"
    except (TypeError, ValueError):
        for base in cls.__mro__:
            stub = NATIVE.get(base.__name__, {}).get(member)
            if stub is not None:
                return f"def {stub}"
        return "<no signature>"


@pytest.mark.parametrize("name", sorted(REAL_SIGNATURES))
def test_each_name_the_project_uses_has_the_real_signature(name):
    assert name in ten_runtime.__all__, f"ten_runtime does not export {name}"
    obj = getattr(ten_runtime, name)
    expected = REAL_SIGNATURES[name]
    if isinstance(expected, str):
        assert f"{_kind(obj)} {_from_signature(inspect.signature(obj))}" == expected
    elif all(isinstance(value, int) for value in expected.values()):
        assert {member.name: int(member) for member in obj} == expected
    else:
        actual = {member: describe(obj, member) for member in expected}
        wrong = {
            member: (actual[member], want)
            for member, want in expected.items()
            if actual[member] != want
        }
        assert not wrong, f"{name}: member -> (this runtime, the real one): {wrong}"
