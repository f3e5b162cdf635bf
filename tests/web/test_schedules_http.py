"""Schedules over HTTP: listed by GET /api/schedules, paused, resumed and removed by admin POSTs
(JSON only, same origin), and on the dashboard's Schedules page with its form actions."""

from __future__ import annotations

import re

from tests.web.conftest import LiveServer

JSON = {"content-type": "application/json"}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def test_the_api_lists_pauses_resumes_and_removes_schedules(live: LiveServer) -> None:
    live.errands.schedule("nightly/export", "export", {"rows": 3}, cron="0 2 * * *", timezone="Europe/Paris")
    with live.client() as c:
        (listed,) = c.get("/api/schedules").json()["schedules"]
        assert (listed["name"], listed["task"], listed["args"], listed["cron"], listed["timezone"], listed["paused"]) \
            == ("nightly/export", "export", {"rows": 3}, "0 2 * * *", "Europe/Paris", False)
        assert listed["next_fire"].endswith(("01:00:00+00:00", "00:00:00+00:00"))  # 2 am in Paris
        assert c.post("/api/schedules/nightly/export/pause").status_code == 415  # a form post: refused
        assert c.post("/api/schedules/nightly/export/pause", headers={**JSON, "Origin": "http://evil.example"}
                      ).status_code == 403
        paused = c.post("/api/schedules/nightly/export/pause", headers=JSON)
        assert paused.status_code == 200 and paused.json()["paused"] is True and paused.json()["next_fire"] is None
        assert live.errands.schedules()[0].paused
        assert c.post("/api/schedules/nightly/export/resume", headers=JSON).json()["paused"] is False
        assert c.post("/api/schedules/nightly/export/explode", headers=JSON).status_code == 404
        assert c.post("/api/schedules/nightly/export/remove", headers=JSON).status_code == 200
        assert c.get("/api/schedules").json() == {"schedules": []}
        missing = c.post("/api/schedules/nightly/export/remove", headers=JSON)
        assert missing.status_code == 404 and "no schedule named" in missing.json()["error"]["message"]


def test_the_dashboard_shows_schedules_and_acts_on_them(live: LiveServer) -> None:
    live.errands.schedule("tick", "export", {"rows": 1}, every=60)
    with live.client() as c:
        page = c.get("/dashboard/schedules")
        assert page.status_code == 200 and "every 60s" in page.text and 'href="/dashboard/schedules"' in page.text
        found = CSRF.search(page.text)
        assert found
        token = found.group(1)
        paused = c.post("/dashboard/schedules/tick/pause", data={"csrf": token})
        assert paused.status_code == 303 and paused.headers["location"].endswith("notice=schedule_pause")
        assert live.errands.schedules()[0].paused and "Resume" in c.get("/dashboard/schedules").text
        assert c.post("/dashboard/schedules/tick/pause", data={"csrf": "x" * 43}).status_code == 403
        asked = c.post("/dashboard/schedules/tick/remove", data={"csrf": token})
        assert asked.status_code == 200 and 'name="confirm" value="yes"' in asked.text
        assert live.errands.schedules() != []
        done = c.post("/dashboard/schedules/tick/remove", data={"csrf": token, "confirm": "yes"})
        assert done.status_code == 303 and live.errands.schedules() == []
        assert c.post("/dashboard/schedules/tick/resume", data={"csrf": token}).status_code == 404
