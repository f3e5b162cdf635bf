"""Tasks that run inside a framework's context: Flask's app context, Django's fresh database
connections. `WrappingErrands.wrap` sees each task function as it is registered; the worker
never knows.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar, cast, overload

from ..app import Errands
from ..task import Task

F = TypeVar("F", bound=Callable[..., Any])

Around = Callable[[], AbstractContextManager[object]]


class WrappingErrands(Errands):
    """An `Errands` app that passes every task function through `wrap` when it is registered."""

    def wrap(self, fn: F) -> F:
        """The function the worker will call instead of `fn`; `fn` itself by default."""
        return fn

    @overload
    def task(self, fn: Callable[..., Any], /) -> Task: ...

    @overload
    def task(self, fn: None = None, /, **options: Any) -> Callable[[Callable[..., Any]], Task]: ...

    def task(self, fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """As `Errands.task`: `@app.task` or `@app.task(retries=3, ...)`."""
        register = super().task(**options)

        def wrap_and_register(func: Callable[..., Any]) -> Task:
            return register(self.wrap(func))

        return wrap_and_register(fn) if fn is not None else wrap_and_register


def run_inside(fn: F, around: Around) -> F:
    """`fn`, run inside `around()` at every call. Its signature (checked at enqueue), name and
    async-ness (which picks thread or event loop in the worker) are kept."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def call_async(*args: Any, **kwargs: Any) -> Any:
            with around():
                return await fn(*args, **kwargs)

        return cast(F, call_async)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        with around():
            return fn(*args, **kwargs)

    return cast(F, call)
