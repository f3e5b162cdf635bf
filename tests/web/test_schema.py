"""schemathesis against the live server's OpenAPI document: no server errors, and responses that
match the document. (The SSE streams are left out: an open stream never ends by design.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import drain
from tests.web.conftest import LiveServer

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "negative_data_rejection")


def test_schemathesis_finds_no_server_errors_and_no_schema_mismatch(live: LiveServer, tmp_path: Path) -> None:
    for rows in (1, 2):
        live.errands.enqueue("export", {"rows": rows})
    live.errands.enqueue("explode", {})
    drain(live.errands)
    live.errands.enqueue("export", {"rows": 3})  # one left queued
    done = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{live.url}/api/openapi.json", "--checks", CHECKS,
         "--max-examples", "25", "--exclude-path-regex", "events", "--request-timeout", "10",
         "--generation-deterministic"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def test_enqueue_refuses_every_body_the_document_calls_invalid(live: LiveServer, tmp_path: Path) -> None:
    """The document and the validation come from the same definitions: whatever the schema of
    POST /api/jobs (a variant per public task, with its arguments' types) rules out is refused."""
    checks = "not_a_server_error,negative_data_rejection,response_schema_conformance"
    done = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{live.url}/api/openapi.json", "--checks", checks,
         "--include-path", "/api/jobs", "--include-method", "POST", "--phases", "coverage,fuzzing",
         "--mode", "negative", "--max-examples", "50", "--request-timeout", "10", "--generation-deterministic"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert live.errands.list_jobs() == []  # nothing invalid was stored
