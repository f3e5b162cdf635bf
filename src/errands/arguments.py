"""A task's arguments checked against its type hints: one pydantic validator per task, built from
the function's signature when first needed, strict on the JSON that is stored ("5" is not an int).

A worker that only runs jobs never checks arguments: it neither builds validators nor imports
pydantic (about 0.1 s of its start). Hints are resolved at registration, so a hint that does not
resolve warns then; one pydantic cannot build warns when the validator is built.
"""

from __future__ import annotations

import inspect
import typing
import warnings
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NotRequired, Required

from .text import short

if TYPE_CHECKING:
    from pydantic import TypeAdapter
    from pydantic_core import ErrorDetails


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


class Arguments:
    """The validators of one task's arguments: `one` for a job's arguments (a TypedDict typed by the
    function's hints), `many` for a list of them (many jobs at once). Unannotated parameters take any
    JSON; so does a hint errands cannot check (it does not resolve, or pydantic cannot build it), with
    a warning."""

    def __init__(self, name: str, fn: Callable[..., Any], params: list[inspect.Parameter]) -> None:
        hints = type_hints(name, fn)
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        self._name = name
        self._named = [p for p in params if p.kind in kinds]
        self._types = {p.name: hints.get(p.name, Any) for p in self._named}
        self._more = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
        self._one: TypeAdapter[Any] | None = None
        self._many: TypeAdapter[Any] | None = None
        self._typed: Any = None
        self.typed = self._checks_something()  # whether any hint checks something (then validate)

    def _checks_something(self) -> bool:
        return any(t is not Any for t in self._types.values())

    @property
    def one(self) -> TypeAdapter[Any]:
        if self._one is None:
            self._one = self._build()
        return self._one

    def problems(self, text: str) -> str | None:
        """What is wrong with a job's arguments (their JSON), as `explain_arguments` says; None when
        they fit the hints."""
        try:
            self.one.validate_json(text)
        except ValueError as exc:
            from pydantic import ValidationError  # loaded with `one`; imported here, off the hot path

            if not isinstance(exc, ValidationError):
                raise
            return explain_arguments(exc.errors(include_url=False))
        return None

    @property
    def many(self) -> TypeAdapter[Any]:
        if self._many is None:
            from pydantic import TypeAdapter

            self.one  # noqa: B018 - builds the TypedDict the list holds
            self._many = TypeAdapter(list[self._typed])  # type: ignore[name-defined]
        return self._many

    def _build(self) -> TypeAdapter[Any]:
        from pydantic import TypeAdapter

        try:
            self._typed = self._typed_dict()
            return TypeAdapter(self._typed)
        except Exception:  # find the hints pydantic cannot build, accept any JSON for them, build again
            for param, hint in self._types.items():
                try:
                    TypeAdapter(hint)
                except Exception as exc:
                    _cannot_check(self._name, param, exc)
                    self._types[param] = Any
            self.typed = self._checks_something()
            self._typed = self._typed_dict()
            return TypeAdapter(self._typed)

    def _typed_dict(self) -> Any:
        from pydantic import ConfigDict
        from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

        fields = {
            p.name: Required[self._types[p.name]] if p.default is inspect.Parameter.empty
            else NotRequired[self._types[p.name]]
            for p in self._named
        }
        make: Any = TypedDict  # built at run time from the signature
        typed = make(f"{self._name} arguments", fields)
        typed.__pydantic_config__ = ConfigDict(strict=True, extra="allow" if self._more else "forbid")
        return typed
