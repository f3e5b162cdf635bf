"""Text that comes from user code (a task's exceptions, log lines, progress messages), made safe to store.

Rendering never raises, whatever `__str__`/`__repr__` do; the result is valid UTF-8 and
capped in size with a visible mark. Values only: no I/O, no imports from errands.
"""

from __future__ import annotations

import re
import traceback

MAX_TEXT_BYTES = 65_536  # the usual cap of one stored text (error message, traceback, log line)

_CHUNK = 1 << 20
_SURROGATES = re.compile("[\ud800-\udfff]")


def short(value: object, limit: int = 60) -> str:
    """A value's repr, cut to `limit` characters for an error message; never raises."""
    try:
        text = str.__str__(repr(value))
    except BaseException:  # noqa: B036 - a hostile __repr__ (see describe)
        text = _placeholder(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(value: object) -> str:
    """`module.QualName` of the value's type (`QualName` for builtins); never raises."""
    try:
        kind = type(value)
        module, name = kind.__module__, kind.__qualname__
        if not isinstance(module, str) or not isinstance(name, str):
            return kind.__name__
        return name if module == "builtins" else f"{module}.{name}"
    except BaseException:  # noqa: B036 - a hostile metaclass must not stop us naming the type
        return "<unknown type>"


def describe(value: object) -> str:
    """`str(value)`, else `repr(value)`, else a placeholder naming the type; never raises.
    An exception's `__str__` may raise anything (even SystemExit): it is the task's code."""
    for render in (str, repr):
        try:
            text = render(value)
            return str.__str__(text) if isinstance(text, str) else _placeholder(value)
        except BaseException:  # noqa: B036, S112 - see the docstring; try the next way
            continue
    return _placeholder(value)


def _placeholder(value: object) -> str:
    return f"<unprintable {type_name(value)}>"


def format_error(exc: BaseException) -> str:
    """The traceback as Python prints it; a placeholder when formatting it raises."""
    try:
        return "".join(traceback.format_exception(exc))
    except BaseException:  # noqa: B036 - e.g. a __notes__ or __cause__ that is not what it claims
        return f"{_placeholder(exc)} (its traceback could not be formatted)\n"


def utf8_size(text: str) -> int:
    """Bytes the text takes as UTF-8, counted in chunks (no copy of a huge string at once)."""
    if len(text) <= _CHUNK:
        return len(text.encode("utf-8", "surrogatepass"))
    return sum(len(text[i : i + _CHUNK].encode("utf-8", "surrogatepass")) for i in range(0, len(text), _CHUNK))


def storable(text: str) -> str:
    """Valid UTF-8 that every store accepts: lone surrogates and NUL become U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATES.sub("\ufffd", text)
    return text


def capped(text: str, limit: int = MAX_TEXT_BYTES, *, keep_end: bool = False) -> str:
    """At most `limit` bytes of UTF-8, storable. Longer text keeps its beginning (and with
    `keep_end` its end too, as a traceback's last lines say what was raised), and says so:
    `… [truncated, N bytes in all]`."""
    text = storable(str.__str__(text))  # first: a NUL (1 byte) becomes U+FFFD (3 bytes)
    if len(text) * 4 <= limit or (len(text) <= limit and utf8_size(text) <= limit):
        return storable(text)
    size = utf8_size(text)
    if size <= limit:
        return storable(text)
    mark = f"… [truncated, {size} bytes in all]"
    room = max(0, limit - len(mark.encode()))
    if not keep_end:
        return _head(text, room) + mark
    head = _head(text, room // 2)
    return f"{head}\n{mark}\n{_tail(text, room - room // 2 - 2)}"


def _head(text: str, size: int) -> str:
    data = storable(text[:size]).encode()[:size]
    return data.decode("utf-8", "ignore")  # a character cut in two is dropped whole


def _tail(text: str, size: int) -> str:
    if size <= 0:
        return ""
    data = storable(text[-size:]).encode()[-size:]
    return data.decode("utf-8", "ignore")
