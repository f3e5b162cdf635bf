"""codec.encode: many items as one compact JSON array, each item within the size limit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from errands.codec import encode, to_json

items = st.lists(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=30) | st.none(), max_size=4),
                 max_size=60)


@given(items, st.integers(min_value=2, max_value=200))
def test_the_array_is_what_encoding_each_item_gives_or_an_item_is_over(many: list[dict[str, Any]], limit: int) -> None:
    each = [json.dumps(item, separators=(",", ":")) for item in many]
    if any(len(text) > limit for text in each):
        with pytest.raises(ValueError):
            encode(many, limit)
    else:
        assert encode(many, limit) == f"[{','.join(each)}]" == to_json(many, "x", 10**9)


def test_values_that_are_not_json_are_refused() -> None:
    with pytest.raises(ValueError):
        encode([{"n": 1}, {"n": float("nan")}], 100)
    with pytest.raises(TypeError):
        encode([{"n": object()}], 100)
