"""A task's arguments checked against its type hints: one pydantic validator per task, built from
the function's signature, strict on the JSON that is stored ("5" is not an int).
"""

from __future__ import annotations

import inspect
import typing
import warnings
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, NotRequired, Required

from pydantic import ConfigDict, TypeAdapter
from pydantic_core import ErrorDetails
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from .options import short


def _place(loc: tuple[int | str, ...]) -> str:
    """('items', 2, 'id') -> items[2].id"""
    text = str(loc[0]) if loc else ""
    for part in loc[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def explain_arguments(errors: list[ErrorDetails]) -> str:
    """'argument 'n': input should be a valid integer (got 'five')', for up to five errors."""
    lines = [
        f"argument {_place(e['loc'])!r}: {e['msg'][:1].lower()}{e['msg'][1:]} (got {short(e['input'])})"
        for e in errors[:5]
    ]
    more = len(errors) - len(lines)
    return "; ".join(lines) + (f"; and {more} more" if more > 0 else "")


def type_hints(name: str, fn: Callable[..., Any]) -> dict[str, Any]:
    """The function's resolved hints; one that does not resolve (a class defined inside a function,
    under `from __future__ import annotations`) is left out with a warning, the others kept."""
    target = inspect.unwrap(fn)
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # resolve them one by one, so a single bad hint costs only its own check
        pass
    hints: dict[str, Any] = {}
    for param, annotation in getattr(target, "__annotations__", {}).items():
        holder = SimpleNamespace(__annotations__={param: annotation})
        try:
            hints |= typing.get_type_hints(holder, globalns=getattr(target, "__globals__", None), include_extras=True)
        except Exception as exc:
            _cannot_check(name, param, exc)
    return hints


def _cannot_check(task: str, param: str, exc: Exception) -> None:
    warnings.warn(f"task {task!r}: argument {param!r} has a type errands cannot check ({exc}); "
                  "any JSON is accepted for it", stacklevel=5)


def arguments_adapter(
    name: str, fn: Callable[..., Any], params: list[inspect.Parameter]
) -> tuple[TypeAdapter[Any], bool, Callable[[], TypeAdapter[Any]]]:
    """A validator of the arguments a job names (a TypedDict typed by the function's hints), whether
    any hint checks something, and a maker of the validator of a list of such arguments (for many
    jobs at once). Unannotated parameters take any JSON; so does a hint errands cannot check (it does
    not resolve, or pydantic cannot build it), with a warning."""
    hints = type_hints(name, fn)
    named = [p for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    types = {p.name: hints.get(p.name, Any) for p in named}
    more = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)

    def build() -> Any:
        fields = {
            p.name: Required[types[p.name]] if p.default is inspect.Parameter.empty else NotRequired[types[p.name]]
            for p in named
        }
        make: Any = TypedDict  # built at run time from the signature
        typed = make(f"{name} arguments", fields)
        typed.__pydantic_config__ = ConfigDict(strict=True, extra="allow" if more else "forbid")
        return typed

    try:
        typed = build()
        adapter = TypeAdapter(typed)
    except Exception:  # find the hints pydantic cannot build, accept any JSON for them, build again
        for param, hint in types.items():
            try:
                TypeAdapter(hint)
            except Exception as exc:
                _cannot_check(name, param, exc)
                types[param] = Any
        typed = build()
        adapter = TypeAdapter(typed)
    return adapter, any(t is not Any for t in types.values()), lambda: TypeAdapter(list[typed])  # type: ignore[valid-type]
