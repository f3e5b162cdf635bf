"""The `errands` command, run as a real child process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from errands import State
from errands.stores import open_store
from tests.acceptance.test_worker_process import APP, producer
from tests.helpers import ROOT, errands_cli


@pytest.fixture
def env(store_url: str) -> dict[str, str]:
    return {"ERRANDS_URL": store_url}


def test_enqueue_prints_the_id_alone_then_status_and_list_read_it(env: dict[str, str]) -> None:
    done = errands_cli("enqueue", "add", "--args", '{"a": 2, "b": 3}', "--app", APP, env=env)
    assert done.returncode == 0, done.stderr
    job_id = int(done.stdout)  # nothing but the id on stdout
    status = json.loads(errands_cli("status", str(job_id), "--json", env=env).stdout)
    assert (status["id"], status["task"], status["state"]) == (job_id, "add", "queued")
    assert status["args"] == {"a": 2, "b": 3}
    listed = json.loads(errands_cli("list", "--json", "--state", "queued", env=env).stdout)
    assert [j["id"] for j in listed["jobs"]] == [job_id]
    human = errands_cli("status", str(job_id), env=env)
    assert f"job {job_id}" in human.stdout and "queued" in human.stdout


def test_worker_runs_it_and_watch_reports_the_outcome(env: dict[str, str], store_url: str) -> None:
    ok = int(errands_cli("enqueue", "add", "--args", '{"a": 2, "b": 3}', "--app", APP, env=env).stdout)
    bad = int(errands_cli("enqueue", "fail", "--args", '{"message": "disk on fire"}', "--app", APP, env=env).stdout)
    assert errands_cli("worker", "--app", APP, "--burst", env=env).returncode == 0
    watched = errands_cli("watch", str(ok), env=env)
    assert watched.returncode == 0 and "succeeded" in watched.stdout and "5" in watched.stdout
    failed = errands_cli("watch", str(bad), env=env)
    assert failed.returncode == 1 and "RuntimeError: disk on fire" in failed.stdout
    status = errands_cli("status", str(bad), env=env)
    assert "Traceback" in status.stdout and "attempt   2 of 2" in status.stdout


def test_cancel_retry_purge_and_migrate(env: dict[str, str], store_url: str) -> None:
    job_id = errands_cli("enqueue", "add", "--args", '{"a": 1, "b": 1}', "--app", APP, env=env).stdout.strip()
    assert "cancelled" in errands_cli("cancel", job_id, env=env).stdout
    assert "already cancelled" in errands_cli("cancel", job_id, env=env).stdout
    assert errands_cli("retry", job_id, env=env).returncode == 0
    assert producer(store_url).get(int(job_id)).state is State.QUEUED
    refused = errands_cli("retry", job_id, env=env)
    assert refused.returncode == 1 and "only failed or cancelled" in refused.stderr
    errands_cli("cancel", job_id, env=env)
    assert errands_cli("purge", "--older-than", "1d", env=env).stdout.strip() == "purged 0 job(s)"
    assert errands_cli("purge", "--older-than", "0s", env=env).stdout.strip() == "purged 1 job(s)"
    assert errands_cli("migrate", env=env).stdout.strip() == "schema is up to date"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["enqueue", "add", "--args", "{a: 1}", "--app", APP], 1, "--args is not valid JSON"),
        (["enqueue", "add", "--args", "[1, 2]", "--app", APP], 1, "must be a JSON object"),
        (["enqueue", "add", "--args", '{"a": 1}', "--app", APP], 1, "missing a required argument: 'b'"),
        (["enqueue", "nope", "--app", APP], 1, "unknown task 'nope'"),
        (["enqueue", "add"], 2, "needs your tasks: pass --app"),
        (["enqueue", "add", "--app", "nocolon"], 2, "use module:attribute"),
        (["status", "424242"], 3, "no job with id 424242"),
        (["purge", "--older-than", "soon"], 2, "is not a duration"),
    ],
)
def test_bad_input_gets_one_clear_line_and_an_exit_code(env: dict[str, str], store_url: str, args: list[str],
                                                        code: int, message: str) -> None:
    open_store(store_url).close()  # read commands refuse a database that does not exist
    done = errands_cli(*args, env=env)
    assert done.returncode == code
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_unknown_store_scheme_is_a_clear_error() -> None:
    done = errands_cli("list", "--url", "mongodb://localhost/jobs")
    assert done.returncode == 2 and "unknown store URL 'mongodb://localhost/jobs'" in done.stderr


def test_the_readme_quick_start_works_as_written(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    jobs_py = re.search(r"```python\n# jobs.py\n(.*?)```", readme, re.S)
    assert jobs_py is not None
    (tmp_path / "jobs.py").write_text(jobs_py.group(1))
    env = {"ERRANDS_URL": ""}  # the documented default: errands.db in the working folder
    script = subprocess.run([sys.executable, "jobs.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")})
    assert script.returncode == 0, script.stderr
    job_id = script.stdout.strip()
    assert errands_cli("worker", "--app", "jobs:app", "--burst", cwd=tmp_path, env=env).returncode == 0
    status = json.loads(errands_cli("status", job_id, "--json", cwd=tmp_path, env=env).stdout)
    assert (status["state"], status["result"]) == ("succeeded", {"rows": 1000})
    assert (tmp_path / "errands.db").exists()


@pytest.mark.parametrize("args", [["status", "6"], ["list"], ["watch", "6"], ["cancel", "6"], ["retry", "6"],
                                  ["purge", "--older-than", "1d"]])
def test_read_commands_in_a_folder_without_a_database_refuse_instead_of_creating_one(tmp_path: Path,
                                                                                     args: list[str]) -> None:
    done = errands_cli(*args, cwd=tmp_path, env={"ERRANDS_URL": ""})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == f"error: no errands database at {tmp_path / 'errands.db'}: check the folder, " \
                                  "--url or ERRANDS_URL (errands migrate creates one)"
    assert list(tmp_path.iterdir()) == []  # nothing created, not even an empty file
    assert errands_cli("migrate", cwd=tmp_path, env={"ERRANDS_URL": ""}).returncode == 0
    assert (tmp_path / "errands.db").exists()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = (\n", "importing 'broken' failed: SyntaxError: '(' was never closed (broken.py, line 1)"),
        ("import json\n\njson.loads('{')\n", "importing 'broken' failed: JSONDecodeError: Expecting property name "
                                             "enclosed in double quotes: line 1 column 2 (char 1) at "),
    ],
)
def test_an_app_module_that_fails_at_import_gives_one_clear_line(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "broken.py").write_text(source)
    for command in (["list", "--app", "broken:app"], ["worker", "--app", "broken:app", "--burst"]):
        done = errands_cli(*command, cwd=tmp_path, env={"ERRANDS_URL": f"sqlite:///{tmp_path / 'x.db'}"})
        assert done.returncode == 2 and done.stdout == ""
        assert len(done.stderr.splitlines()) == 1 and message in done.stderr, done.stderr


def test_a_url_that_differs_from_the_apps_store_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    done = errands_cli("enqueue", "add", "--args", '{"a": 1, "b": 2}', "--app", "tests.apps.basic:app",
                       "--url", f"sqlite:///{other}", env={"ERRANDS_URL": f"sqlite:///{tmp_path / 'app.db'}"})
    assert done.returncode == 2, done.stderr
    assert "differs from the store of --app" in done.stderr and "Traceback" not in done.stderr
    assert not other.exists()


def test_every_command_is_found_in_the_module_the_table_names() -> None:
    """The CLI imports a command's module when the command runs: the table must name each module's
    commands exactly (a command missing from it would not exist; a wrong module would not load)."""
    import importlib

    from errands.cli import COMMAND_MODULES

    found: dict[str, str] = {}
    for module_name in set(COMMAND_MODULES.values()):
        module = importlib.import_module(f"errands.cli.{module_name}")
        found |= {command.name: module_name for command in module.COMMANDS}
    assert found == COMMAND_MODULES


def test_a_worker_runs_typed_tasks_without_importing_pydantic_or_the_web_stack(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Arguments are checked when jobs are enqueued, so a worker never builds a validator: pydantic,
    like Starlette and uvicorn, stays out of its start (about 0.1 s each)."""
    (tmp_path / "typed_tasks.py").write_text(
        "import atexit, sys\n"
        "from errands import Errands, JobContext\n"
        "app = Errands()\n"
        "@app.task(name='typed')\n"
        "def typed(ctx: JobContext, n: int, label: str = '') -> None:\n"
        "    print('ran', n, flush=True)\n"
        "heavy = ('pydantic', 'starlette', 'uvicorn')\n"
        "atexit.register(lambda: print('loaded', sorted({m.split('.')[0] for m in sys.modules} & set(heavy))))\n"
    )
    paths = {"PYTHONPATH": f"{tmp_path}:{ROOT}"}
    enqueued = errands_cli("enqueue", "typed", "--args", '{"n": 7}', "--app", "typed_tasks:app", env=env | paths)
    assert enqueued.returncode == 0, enqueued.stderr
    done = errands_cli("worker", "--app", "typed_tasks:app", "--burst", env=env | paths)
    assert done.returncode == 0, done.stderr
    assert "ran 7" in done.stdout and "loaded []" in done.stdout, done.stdout
