"""The unique-key policy over HTTP: "raise" answers 409 naming the holder, "replace" gives the new
job, a bad policy is a 422 naming the field; the OpenAPI document lists the choices."""

from __future__ import annotations

from tests.web.conftest import LiveServer


def test_unique_policies_over_http(live: LiveServer) -> None:
    body = {"task": "export", "args": {"rows": 1}, "unique_key": "nightly"}
    with live.client() as c:
        first = c.post("/api/jobs", json=body).json()
        again = c.post("/api/jobs", json=body | {"args": {"rows": 2}}).json()
        assert again["id"] == first["id"]  # "return" by default
        refused = c.post("/api/jobs", json=body | {"unique": "raise"})
        assert refused.status_code == 409
        assert refused.json()["error"] == {
            "code": "unique_key_taken",
            "message": f"unique key 'nightly' is held by job {first['id']}, which is queued: give "
                       "unique=\"return\" to get it or unique=\"replace\" to replace it",
        }
        replaced = c.post("/api/jobs", json=body | {"args": {"rows": 3}, "unique": "replace"})
        assert replaced.status_code == 202 and replaced.json()["id"] != first["id"]
        assert c.get(f"/api/jobs/{first['id']}").json()["state"] == "cancelled"
        assert c.get(f"/api/jobs/{replaced.json()['id']}").json()["args"] == {"rows": 3}
        bad = c.post("/api/jobs", json=body | {"unique": "merge"})
        assert bad.status_code == 422
        assert bad.json()["error"]["message"] == "unique must be return, replace or raise, not 'merge'"
        alone = c.post("/api/jobs", json={"task": "export", "args": {"rows": 1}, "unique": "raise"})
        assert alone.status_code == 422 and alone.json()["error"]["message"] == "unique='raise' needs a unique_key"
        schema = c.get("/api/openapi.json").json()
    options = schema["components"]["schemas"]
    unique = next(s["properties"]["unique"] for s in options.values() if "unique" in s.get("properties", {}))
    assert "replace" in str(unique)
    assert "409" in schema["paths"]["/api/jobs"]["post"]["responses"]
