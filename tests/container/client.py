"""HTTP side of the container test: the stack as a user and an operator see it, through published ports."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

from recommender.limits import LOGIN_ATTEMPTS
from tests.helpers.processes import wait_for

REQUEST_SECONDS = 15
JOB_SECONDS = 300
READY_SECONDS = 120
FAILING_REQUESTS = 50
EVENT = json.dumps({"events": [{"user_id": "ct-user", "item_id": "ct-item", "type": "view"}]}).encode()


class Stack:
    """The proxy (public entry), Flower, and each web container on its test-only loopback port."""

    def __init__(self, env: dict):
        self.proxy = f"http://127.0.0.1:{env['LIKEWISE_HTTP_PORT']}"
        self.flower = f"http://127.0.0.1:{env['LIKEWISE_FLOWER_PORT']}"
        self.webs = {name: f"http://127.0.0.1:{env[f'LIKEWISE_TEST_{name.upper()}_PORT']}" for name in ("web1", "web2")}
        self.token = env["ADMIN_TOKEN"]
        self.ingest_token = env["INGEST_TOKEN"]
        self.flower_auth = env["FLOWER_BASIC_AUTH"]
        self.item_id: str | None = None

    @staticmethod
    def call(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def admin(self, path: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None) -> dict:
        status, _, raw = self.call(self.proxy + path, method, body,
                                   {"Authorization": f"Bearer {self.token}", **(headers or {})})
        assert status in (200, 202), f"{method} {path}: {status} {raw[:500]!r}"
        return json.loads(raw)

    def check_demo_served(self) -> None:
        """The first index is served through the proxy: home page, search, a similar-items answer."""
        wait_for(lambda: self.call(self.proxy + "/readyz")[0] == 200, READY_SECONDS, "the proxy's /readyz", 0.5)
        status, _, page = self.call(self.proxy + "/")
        assert status == 200 and b"<html" in page.lower(), f"home page through the proxy: {status}"
        status, _, raw = self.call(self.proxy + "/api/search?q=star")
        results = json.loads(raw)["results"]
        assert status == 200 and results, f"demo search through the proxy: {status} {raw[:300]!r}"
        self.item_id = str(results[0]["item_id"])
        status, headers, raw = self.call(f"{self.proxy}/api/items/{self.item_id}/similar?k=10")
        assert status == 200 and len(json.loads(raw)["results"]) == 10, f"similar items: {status} {raw[:300]!r}"
        assert headers.get("X-Index-Version"), "similar answer without X-Index-Version"
        print(f"demo served through the proxy: {self.item_id} has 10 similar items, "
              f"version {headers['X-Index-Version']}")

    def check_flower_needs_auth(self) -> None:
        status, _, _ = self.call(self.flower + "/")
        assert status == 401, f"Flower without auth answered {status}, expected 401"
        status, _, _ = self.call(self.flower + "/", headers={"Authorization": "Basic " + base64.b64encode(
            b"ops:wrong").decode()})
        assert status == 401, f"Flower with a wrong password answered {status}, expected 401"
        good = base64.b64encode(self.flower_auth.encode()).decode()
        status, _, _ = self.call(self.flower + "/", headers={"Authorization": f"Basic {good}"})
        assert status == 200, f"Flower with the right credentials answered {status}"
        print("Flower: 401 without or with wrong credentials, 200 with FLOWER_BASIC_AUTH")

    def post_event(self, token: str | None) -> int:
        headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
        return self.call(self.proxy + "/api/events", "POST", EVENT, headers)[0]

    def check_ingest_survives_a_failing_client(self) -> None:
        """Behind the proxy, a client sending no token 50 times (throttled after LOGIN_ATTEMPTS) never
        makes a correct-token ingest client wait: it keeps getting 202 in between."""
        failing, correct = [], []
        for _ in range(FAILING_REQUESTS):
            failing.append(self.post_event(None))
            correct.append(self.post_event(self.ingest_token))
        assert correct == [202] * FAILING_REQUESTS, f"correct-token ingest behind the proxy: {correct}"
        assert failing[:LOGIN_ATTEMPTS] == [401] * LOGIN_ATTEMPTS, f"token-less ingest: {failing}"
        assert set(failing[LOGIN_ATTEMPTS:]) == {429}, f"token-less ingest was not throttled: {failing}"
        print(f"ingest behind the proxy: {FAILING_REQUESTS} token-less requests ({failing.count(429)} × 429), "
              f"the correct-token client got 202 × {correct.count(202)}")

    def upload(self, files: dict[str, Path]) -> str:
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{path.name}"\r\n'
                 f"Content-Type: text/csv\r\n\r\n".encode() + path.read_bytes() + b"\r\n"
                 for field, path in files.items()]
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.admin("/api/admin/catalog", "POST", body,
                          {"Content-Type": f"multipart/form-data; boundary={boundary}"})["job_id"]

    def rebuild(self) -> str:
        return self.admin("/api/admin/rebuild", "POST")["job_id"]

    def job(self, job_id: str) -> dict:
        return self.admin(f"/api/admin/jobs/{job_id}")

    def index(self) -> dict:
        return self.admin("/api/admin/index")

    def served_versions(self) -> dict[str, str | None]:
        """The X-Index-Version each web container answers a similar-items question with."""
        versions = {}
        for name, base in self.webs.items():
            status, headers, _ = self.call(f"{base}/api/items/{self.item_id}/similar?k=5")
            versions[name] = headers.get("X-Index-Version") if status == 200 else f"HTTP {status}"
        return versions

    def follow_and_time_swap(self, job_id: str, old: str) -> tuple[dict, dict[str, str], float]:
        """Follow a job while asking both web containers for their version all along. Returns the job, what
        each web switched to, and the seconds from publication (a version's name is its UTC publish time to
        the millisecond; the containers share this machine's clock) until the last of them served it."""
        switched: dict[str, tuple[str, float]] = {}

        def step():
            now = time.time()
            for name, version in self.served_versions().items():
                if version != old and name not in switched:
                    switched[name] = (version, now)
            job = self.job(job_id)
            done = job["state"] == "FAILURE" or (job["state"] == "SUCCESS" and len(switched) == len(self.webs))
            return job if done else None

        job = wait_for(step, JOB_SECONDS, f"job {job_id} and both webs on its version", interval=0.02)
        if job["state"] != "SUCCESS":
            return job, {}, float("nan")
        published = datetime.strptime(job["index_version"].split("Z-")[0], "%Y%m%dT%H%M%S%f")
        published = published.replace(tzinfo=timezone.utc).timestamp()
        return job, {name: v for name, (v, _) in switched.items()}, max(t for _, t in switched.values()) - published
