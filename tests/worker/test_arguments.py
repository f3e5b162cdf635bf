"""Arguments are checked against the task's type hints at enqueue, strictly, on the JSON that is
stored, naming the argument: from Python, the `errands` command and HTTP alike. The OpenAPI
document describes each public task's arguments with the same definitions."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from errands import Errands, JobContext, State
from errands.errors import BadArguments
from errands.task import Task
from errands.web import create_app
from tests.helpers import drain, errands_cli, serve
from tests.web.conftest import LiveServer

APP = "tests.apps.basic:app"  # add(a: int, b: int)


class Opaque:  # pydantic knows no schema for it
    pass


def define(app: Errands) -> dict[str, Task]:
    @app.task(name="export", public=True)
    def export(ctx: JobContext, n: int, label: str = "x", tags: list[str] | None = None) -> dict[str, Any]:
        return {"n": n, "label": label, "tags": tags}

    @app.task(name="when")
    def when(ctx: JobContext, at: datetime, ratio: float = 1.0) -> str:
        return f"{type(at).__name__} {at} {ratio}"

    @app.task(name="loose")
    def loose(ctx, n, *, more=None):  # type: ignore[no-untyped-def]
        return n

    @app.task(name="secret")
    def secret(ctx: JobContext, code: int) -> None: ...

    return app.tasks


# -- Python -----------------------------------------------------------------------------------------------


def test_a_wrong_type_is_refused_naming_the_argument_and_nothing_is_stored(app: Errands) -> None:
    tasks = define(app)
    with pytest.raises(BadArguments, match=r"task 'export': argument 'n': input should be a valid integer"):
        tasks["export"].enqueue(n="five")
    with pytest.raises(BadArguments, match=r"argument 'n'.*got 'five'"):
        app.enqueue("export", {"n": "five"})
    with pytest.raises(BadArguments, match=r"argument 'tags\[1\]': input should be a valid string"):
        app.enqueue("export", {"n": 1, "tags": ["a", 2]})
    with pytest.raises(BadArguments, match=r"argument 'n'.*\(item 2 of many_args\)"):
        app.enqueue_many("export", [{"n": 1}, {"n": 2}, {"n": "3"}, {"n": 4}])
    assert app.list_jobs() == []


def test_a_valid_enqueue_stores_exactly_what_was_sent_and_the_task_runs(app: Errands) -> None:
    tasks = define(app)
    job = tasks["export"].enqueue(n=5, tags=["a"])
    stamp = app.enqueue("when", {"at": "2026-11-30T08:00:00+00:00", "ratio": 2})
    ids = app.enqueue_many("export", [{"n": i} for i in range(3)])
    assert app.get(job.id).args == {"n": 5, "tags": ["a"]}
    assert app.get(stamp.id).args == {"at": "2026-11-30T08:00:00+00:00", "ratio": 2}  # not converted
    drain(app)
    assert app.get(job.id).result == {"n": 5, "label": "x", "tags": ["a"]}
    assert app.get(stamp.id).result == "str 2026-11-30T08:00:00+00:00 2"  # the task receives the JSON
    assert [app.get(i).state for i in ids] == [State.SUCCEEDED] * 3


@pytest.mark.parametrize(
    ("args", "refused"),
    [
        ({"n": "5"}, "n"),  # strict: a numeric string is not an int
        ({"n": 5.0}, "n"),  # nor is a float with no fraction
        ({"n": True}, "n"),  # nor a boolean
        ({"n": None}, "n"),
        ({"n": 1, "label": 7}, "label"),
        ({"n": 1, "tags": "abc"}, "tags"),
    ],
)
def test_strict_for_json_types(tmp_path: Path, args: dict[str, Any], refused: str) -> None:
    task = define(Errands(f"sqlite:///{tmp_path / 'e.db'}"))["export"]
    with pytest.raises(BadArguments, match=f"argument '{refused}'"):
        task.encode_args(args, 65536)


def test_json_forms_of_other_types_are_accepted(tmp_path: Path) -> None:
    tasks = define(Errands(f"sqlite:///{tmp_path / 'e.db'}"))
    assert tasks["when"].encode_args({"at": "2026-01-01T00:00:00Z", "ratio": 3}, 65536) == (
        '{"at":"2026-01-01T00:00:00Z","ratio":3}'
    )
    with pytest.raises(BadArguments, match="argument 'at': input should be a valid datetime"):
        tasks["when"].encode_args({"at": "yesterday"}, 65536)
    assert tasks["export"].encode_args({"n": 1, "tags": None}, 65536) == '{"n":1,"tags":null}'


def test_unknown_and_missing_arguments_keep_their_messages(app: Errands) -> None:
    define(app)
    with pytest.raises(BadArguments, match="got an unexpected keyword argument 'm'"):
        app.enqueue("export", {"n": 1, "m": 2})
    with pytest.raises(BadArguments, match="missing a required argument: 'n'"):
        app.enqueue("export", {})


@pytest.mark.parametrize("args", [[1, 2], "n=1", 0, [], ("n", 1)])
def test_arguments_that_are_not_a_mapping_are_refused_clearly(app: Errands, args: Any) -> None:
    define(app)
    with pytest.raises(BadArguments, match=r"must be a mapping of parameter names to values \(a dict\), not "):
        app.enqueue("export", args)
    with pytest.raises(BadArguments, match=r"mapping .*, not .* \(item 1 of many_args\)"):
        app.enqueue_many("export", [{"n": 1}, args])
    with pytest.raises(BadArguments, match="many_args must be an iterable of argument mappings, not int"):
        app.enqueue_many("export", 5)  # type: ignore[arg-type]
    assert app.stats() == {}


def test_unannotated_parameters_accept_any_json(tmp_path: Path) -> None:
    loose = define(Errands(f"sqlite:///{tmp_path / 'e.db'}"))["loose"]
    for value in (1, "one", [1, {"a": None}], None, 1.5):
        assert json.loads(loose.encode_args({"n": value, "more": value}, 65536)) == {"n": value, "more": value}


def test_a_hint_errands_cannot_check_warns_and_accepts_any_json(tmp_path: Path) -> None:
    app = Errands(f"sqlite:///{tmp_path / 'e.db'}")

    @app.task(name="odd")
    def odd(ctx: JobContext, thing: Opaque, n: int) -> None: ...

    # pydantic is asked when the validator is built: by the first check, not at registration.
    with pytest.warns(UserWarning, match="argument 'thing' has a type errands cannot check"):
        assert odd.encode_args({"thing": {"any": "json"}, "n": 1}, 65536)
    with pytest.raises(BadArguments, match="argument 'n'"):
        odd.encode_args({"thing": 1, "n": "1"}, 65536)
    with pytest.warns(UserWarning, match="argument 'thing' has a type errands cannot check"):

        @app.task(name="unresolved")
        def unresolved(ctx: JobContext, thing: NotDefinedAnywhere, n: int) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    assert unresolved.encode_args({"thing": "whatever", "n": 1}, 65536)
    with pytest.raises(BadArguments, match="argument 'n'"):  # the other hints are still checked
        unresolved.encode_args({"thing": "whatever", "n": "1"}, 65536)


def test_well_typed_tasks_register_without_warnings(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        define(Errands(f"sqlite:///{tmp_path / 'e.db'}"))


@given(st.integers())
def test_any_int_is_accepted(value: int) -> None:
    assert json.loads(PROPERTY_TASK.encode_args({"n": value}, 10**6)) == {"n": value}


@given(
    st.one_of(
        st.text(), st.booleans(), st.none(), st.floats(allow_nan=False, allow_infinity=False),
        st.lists(st.integers()), st.dictionaries(st.text(), st.integers()),
    )
)
def test_anything_but_an_int_is_refused(value: Any) -> None:
    with pytest.raises(BadArguments, match="argument 'n'"):
        PROPERTY_TASK.encode_args({"n": value}, 10**6)


PROPERTY_TASK = define(Errands("sqlite:///unused-never-opened.db"))["export"]  # encode_args opens no store


# -- the errands command ----------------------------------------------------------------------------------


def test_cli_refuses_a_wrong_type_naming_the_argument(store_url: str) -> None:
    env = {"ERRANDS_URL": store_url}
    refused = errands_cli("enqueue", "add", "--args", '{"a": "five", "b": 1}', "--app", APP, env=env)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip() == "error: task 'add': argument 'a': input should be a valid integer (got 'five')"
    bad_option = errands_cli("enqueue", "add", "--args", '{"a": 1, "b": 1}', "--priority", str(2**40), "--app", APP,
                             env=env)
    assert bad_option.returncode == 1 and "priority must be a 32-bit integer" in bad_option.stderr
    ok = errands_cli("enqueue", "add", "--args", '{"a": 1, "b": 2}', "--queue", "q", "--app", APP, env=env)
    assert ok.returncode == 0, ok.stderr
    listed = json.loads(errands_cli("list", "--json", env=env).stdout)["jobs"]
    assert [(j["id"], j["args"], j["queue"]) for j in listed] == [(int(ok.stdout), {"a": 1, "b": 2}, "q")]


# -- HTTP ---------------------------------------------------------------------------------------------------


@pytest.fixture
def server(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setenv("ERRANDS_SECRET", "test-secret")
    app = Errands(store_url)
    define(app)
    uvicorn_server, url = serve(create_app(app))
    yield LiveServer(app, url, uvicorn_server)
    uvicorn_server.should_exit = True
    app.close()


def test_http_refuses_a_wrong_type_naming_the_argument(server: LiveServer) -> None:
    with server.client() as c:
        refused = c.post("/api/jobs", json={"task": "export", "args": {"n": "five"}})
        assert refused.status_code == 422
        assert refused.json()["error"] == {
            "code": "invalid",
            "message": "task 'export': argument 'n': input should be a valid integer (got 'five')",
        }
        for body, field in [
            ({"task": "export", "args": {"n": 1}, "priority": "high"}, "priority must be a 32-bit integer"),
            ({"task": "export", "args": {"n": 1}, "priority": True}, "priority must be a 32-bit integer"),
            ({"task": "export", "args": {"n": 1}, "delay": -1}, "delay must be between 0"),
            ({"task": "export", "args": [1]}, "args must be an object"),
            ({"task": "export", "colour": "red"}, "unknown field(s): colour"),
            ({"args": {"n": 1}}, "field 'task' is required"),
        ]:
            answer = c.post("/api/jobs", json=body)
            assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid"), body
            assert field in answer.json()["error"]["message"], answer.json()
        assert server.errands.list_jobs() == []
        ok = c.post("/api/jobs", json={"task": "export", "args": {"n": 3, "tags": ["x"]}, "priority": 2, "delay": 0})
        assert ok.status_code == 202, ok.text
        job = server.errands.get(ok.json()["id"])
        assert (job.args, job.priority) == ({"n": 3, "tags": ["x"]}, 2)


def test_openapi_document_has_each_public_tasks_arguments_and_no_private_one(server: LiveServer) -> None:
    with server.client() as c:
        document = c.get("/api/openapi.json").json()
    schemas = document["components"]["schemas"]
    body = document["paths"]["/api/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    variants = [schemas[v["$ref"].rsplit("/", 1)[-1]] for v in body["oneOf"]]
    assert [v["properties"]["task"] for v in variants] == [{"const": "export"}]  # the only public task
    export = variants[0]
    assert export["required"] == ["task", "args"] and export["additionalProperties"] is False
    arguments = schemas[export["properties"]["args"]["$ref"].rsplit("/", 1)[-1]]
    assert arguments["required"] == ["n"] and arguments["additionalProperties"] is False
    assert arguments["properties"]["n"]["type"] == "integer"
    assert arguments["properties"]["tags"]["anyOf"] == [{"type": "array", "items": {"type": "string"}},
                                                        {"type": "null"}]
    assert export["properties"]["priority"] == schemas["EnqueueRequest"]["properties"]["priority"]
    assert export["properties"]["priority"]["anyOf"][0] == {"type": "integer", "minimum": -(2**31),
                                                            "maximum": 2**31 - 1}
    assert "secret" not in json.dumps(document)  # a private task is never revealed
    assert schemas["State"]["enum"] == [s.value for s in State]
