"""Properties of follow tokens: what make_token signs, verify_token gives back, until it expires;
a token changed anywhere, or signed with another secret, grants nothing."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from errands.follow_tokens import make_token, verify_token

secrets = st.binary(min_size=1, max_size=64)
job_ids = st.integers(min_value=1, max_value=2**63 - 1)
ttls = st.integers(min_value=1, max_value=10 * 365 * 86400)
nows = st.integers(min_value=0, max_value=2**34)


@given(secrets, job_ids, ttls, nows, st.data())
def test_a_token_grants_its_job_until_it_expires(secret: bytes, job_id: int, ttl: int, now: int,
                                                  data: st.DataObject) -> None:
    token = make_token(secret, job_id, ttl, now=now)
    later = data.draw(st.integers(min_value=now, max_value=now + ttl), label="later")
    assert verify_token(secret, token, now=later) == job_id


@given(secrets, job_ids, ttls, nows, st.integers(min_value=1, max_value=10**9))
def test_an_expired_token_grants_nothing(secret: bytes, job_id: int, ttl: int, now: int, past: int) -> None:
    token = make_token(secret, job_id, ttl, now=now)
    assert verify_token(secret, token, now=now + ttl + past) is None


@given(secrets, job_ids, ttls, nows, st.data())
def test_a_token_changed_anywhere_grants_nothing(secret: bytes, job_id: int, ttl: int, now: int,
                                                 data: st.DataObject) -> None:
    token = make_token(secret, job_id, ttl, now=now)
    at = data.draw(st.integers(min_value=0, max_value=len(token) - 1), label="position")
    replacement = data.draw(st.characters(codec="ascii"), label="replacement")
    assume(replacement != token[at])
    tampered = token[:at] + replacement + token[at + 1 :]
    assert verify_token(secret, tampered, now=now) is None


@given(secrets, secrets, job_ids, ttls, nows)
def test_a_token_signed_with_another_secret_grants_nothing(secret: bytes, other: bytes, job_id: int, ttl: int,
                                                          now: int) -> None:
    assume(secret != other)
    assert verify_token(other, make_token(secret, job_id, ttl, now=now), now=now) is None


@given(secrets, st.text(max_size=200), nows)
def test_any_text_is_refused_or_verified_never_an_exception(secret: bytes, text: str, now: int) -> None:
    assert verify_token(secret, text, now=now) is None  # no text is a valid token without the secret
