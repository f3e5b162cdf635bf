"""Tasks that raise what a hostile or careless task can raise: exceptions that cannot be
printed, BaseExceptions, text no store accepts. The store comes from ERRANDS_URL."""

from __future__ import annotations

from collections.abc import Sequence

from errands import Errands, JobContext

app = Errands()


class Unprintable(Exception):
    """Both `str()` and `repr()` raise."""

    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ is broken")


class UnprintableBase(BaseException):
    """A BaseException (not an Exception) whose `str()` and `repr()` raise BaseExceptions."""

    def __str__(self) -> str:
        raise SystemExit("__str__ exits")

    def __repr__(self) -> str:
        raise KeyboardInterrupt


class NotAString(Exception):
    def __str__(self) -> str:
        return 42  # type: ignore[return-value]


class BadNotes(Sequence[str]):
    """Looks like a sequence, but reading it raises: formatting the traceback fails."""

    def __len__(self) -> int:
        raise RuntimeError("no len")

    def __getitem__(self, index: object) -> str:
        raise RuntimeError("no notes")


def raise_kind(kind: str) -> None:
    if kind == "unprintable":
        raise Unprintable()
    if kind == "unprintable_base":
        raise UnprintableBase()
    if kind == "system_exit":
        raise SystemExit(3)
    if kind == "keyboard_interrupt":
        raise KeyboardInterrupt
    if kind == "not_a_string":
        raise NotAString()
    if kind == "bad_notes":
        exc = ValueError("notes that cannot be read")
        exc.__notes__ = BadNotes()  # type: ignore[assignment]
        raise exc
    if kind == "bad_text":
        raise ValueError("a lone surrogate \ud800 and a NUL \x00 in one message")
    raise AssertionError(f"unknown kind {kind!r}")


KINDS = ("unprintable", "unprintable_base", "system_exit", "keyboard_interrupt", "not_a_string", "bad_notes",
         "bad_text")


@app.task(name="raise_sync")
def raise_sync(ctx: JobContext, kind: str) -> None:
    raise_kind(kind)


@app.task(name="raise_async")
async def raise_async(ctx: JobContext, kind: str) -> None:
    raise_kind(kind)


@app.task(name="log_unprintable")
def log_unprintable(ctx: JobContext) -> str:
    ctx.log(Unprintable())  # type: ignore[arg-type]
    ctx.log("NUL \x00 and surrogate \ud800")
    ctx.progress(1, 2, Unprintable())  # type: ignore[arg-type]
    return "logged"
