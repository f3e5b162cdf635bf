"""codec.encode: many items as one compact JSON array, each item within the size limit."""

from __future__ import annotations

import enum
import json
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from errands.codec import encode, scalar_copy, to_json
from tests.helpers import typed

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


scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=5))
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6)


@given(st.dictionaries(st.text(max_size=5) | st.integers(), values, max_size=5))
def test_a_scalar_copy_is_what_the_json_decodes_to(args: dict[Any, Any]) -> None:
    copy = scalar_copy(args)
    if copy is not None:
        assert typed(copy) == typed(json.loads(to_json(args, "x", 10**9)))
        assert copy is not args


class Level(enum.IntEnum):
    HIGH = 2


@pytest.mark.parametrize("args", [{"n": Level.HIGH}, {"s": type("Name", (str,), {})("x")}, {"xs": [1]}, {1: 1},
                                  MappingProxyType({"n": 1})])
def test_no_scalar_copy_of_what_decodes_otherwise(args: dict[Any, Any]) -> None:
    assert scalar_copy(args) is None


def test_a_scalar_copy_of_plain_scalars() -> None:
    args = {"s": "x", "i": 2**70, "f": -0.0, "b": True, "z": None}
    assert scalar_copy(args) == args
