"""`errands enqueue --unique-key K --unique raise|replace|return`, run as a real child process."""

from __future__ import annotations

from errands import State
from errands.stores import open_store
from tests.acceptance.test_worker_process import APP
from tests.helpers import errands_cli


def test_enqueue_with_a_unique_policy(store_url: str) -> None:
    env = {"ERRANDS_URL": store_url}
    key = ("--unique-key", "nightly", "--app", APP)
    first = int(errands_cli("enqueue", "add", "--args", '{"a": 1, "b": 1}', *key, env=env).stdout)
    again = errands_cli("enqueue", "add", "--args", '{"a": 2, "b": 2}', *key, "--unique", "return", env=env)
    assert int(again.stdout) == first
    refused = errands_cli("enqueue", "add", "--args", '{"a": 3, "b": 3}', *key, "--unique", "raise", env=env)
    assert refused.returncode == 1 and refused.stdout == ""
    assert f"unique key 'nightly' is held by job {first}, which is queued" in refused.stderr
    assert "Traceback" not in refused.stderr
    replaced = errands_cli("enqueue", "add", "--args", '{"a": 4, "b": 4}', *key, "--unique", "replace", env=env)
    assert replaced.returncode == 0, replaced.stderr
    bad = errands_cli("enqueue", "add", *key, "--unique", "merge", env=env)
    assert bad.returncode == 2 and "'merge' is not one of 'return', 'replace', 'raise'" in bad.stderr
    store = open_store(store_url)
    try:
        assert store.get(first).state is State.CANCELLED
        assert store.get(int(replaced.stdout)).args == {"a": 4, "b": 4}
    finally:
        store.close()
