"""Properties of errands.options.check_options: values in range pass as given, values out of range
are refused with BadArguments naming the option and its rule."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from errands.errors import BadArguments
from errands.options import INT32, MAX_DELAY, MAX_JOB_ID, EnqueueOptions, check_options

valid = st.fixed_dictionaries({}, optional={
    "queue": st.text(min_size=1, max_size=200),
    "priority": st.integers(min_value=-INT32, max_value=INT32 - 1),
    "delay": st.floats(min_value=0, max_value=MAX_DELAY, allow_nan=False, allow_infinity=False),
    "unique_key": st.text(max_size=1000),
    "after": st.integers(min_value=1, max_value=MAX_JOB_ID),
})

out_of_range = st.one_of(
    st.tuples(st.just("queue"), st.one_of(st.just(""), st.text(min_size=201, max_size=300))),
    st.tuples(st.just("priority"), st.one_of(st.integers(max_value=-INT32 - 1), st.integers(min_value=INT32))),
    st.tuples(st.just("delay"), st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=MAX_DELAY * 1.001),
                                          st.just(float("nan")), st.just(float("inf")))),
    st.tuples(st.just("unique_key"), st.text(min_size=1001, max_size=1100)),
    st.tuples(st.just("after"), st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_JOB_ID + 1))),
    st.tuples(st.just("priority"), st.one_of(st.text(), st.floats(), st.booleans())),
)


@given(valid)
def test_values_in_range_pass_as_given(given_options: dict[str, Any]) -> None:
    options = check_options(**given_options)
    assert {k: getattr(options, k) for k in given_options} == given_options


@given(out_of_range)
def test_values_out_of_range_are_refused_naming_the_option(bad: tuple[str, Any]) -> None:
    name, value = bad
    with pytest.raises(BadArguments, match=name):
        check_options(**{name: value})


@given(st.text(min_size=1, max_size=30).filter(
    lambda k: k not in EnqueueOptions.model_fields and k.isidentifier()))
def test_an_unknown_option_is_refused_by_name(name: str) -> None:
    with pytest.raises(BadArguments, match="unknown field"):
        check_options(**{name: 1})
