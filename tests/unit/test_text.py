"""Properties of errands.text.capped: whatever the text, capping never raises, gives storable UTF-8
within the cap, keeps short text as it is and marks what it cut."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from errands.text import capped, storable, utf8_size

# Every code point, lone surrogates included (st.text leaves them out by default): task code can make them.
any_text = st.text(st.characters(exclude_categories=()), max_size=400)
limits = st.integers(min_value=80, max_value=600)  # room for the mark itself, "… [truncated, N bytes in all]"


@given(any_text, limits, st.booleans())
def test_capping_never_raises_and_gives_storable_utf8(text: str, limit: int, keep_end: bool) -> None:
    result = capped(text, limit, keep_end=keep_end)
    result.encode("utf-8")  # strict: no lone surrogates left
    assert "\x00" not in result


@given(any_text, limits, st.booleans())
def test_text_over_the_cap_is_cut_to_the_cap_and_says_so(text: str, limit: int, keep_end: bool) -> None:
    size = utf8_size(text)
    result = capped(text, limit, keep_end=keep_end)
    if size > limit:
        assert len(result.encode()) <= limit
        assert f"[truncated, {size} bytes in all]" in result
    else:
        assert result == storable(text)
        assert "truncated" not in result or "truncated" in text


@given(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=400), limits)
def test_a_cut_keeps_the_beginning(text: str, limit: int) -> None:
    result = capped(text, limit)
    if result != text:
        head = result.split("… [truncated, ")[0]
        assert text.startswith(head)


@given(any_text, limits, st.booleans())
@example("\x00" * 50, 100, False)
def test_capped_text_never_exceeds_the_cap_in_utf8_bytes(text: str, limit: int, keep_end: bool) -> None:
    assert len(capped(text, limit, keep_end=keep_end).encode()) <= limit
