"""`eprotocol serve` as a real server process on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.pdfs import greek_pdf
from tests.support import (
    clean_env,
    init_archive,
    launch_server,
    open_archive,
    run_cli,
    serve,
    start_server,
    stop_server,
)


def _get(url: str) -> tuple[int, str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local test server
            return response.status, response.headers["content-type"], json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, err.headers["content-type"], json.load(err)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    env = clean_env()
    yield from serve(tmp_path, env)


def test_health_ready_and_openapi(server: str) -> None:
    assert _get(server + "/health")[::2] == (200, {"status": "ok"})
    status, _, readiness = _get(server + "/ready")
    assert (status, readiness["status"]) == (200, "ready")
    assert readiness["search_index"] in {"ready", "rebuilding"}  # (the worker's first round)
    assert readiness["signing_certificate_days_left"] in {3648, 3649}  # init's development key
    status, _, schema = _get(server + "/schema/openapi.json")
    assert status == 200
    assert {"/health", "/ready"} <= set(schema["paths"])
    # Request bodies refuse fields they do not know, and the document says so.
    bodies = {name: s for name, s in schema["components"]["schemas"].items() if "Request" in name}
    assert {"CorrectionRequest", "LoginRequest", "AssignRequest"} <= set(bodies)
    assert {name: s.get("additionalProperties") for name, s in bodies.items()} == dict.fromkeys(
        bodies, False
    )
    # Every parameter says what it is for, to the developers of the other applications.
    undescribed = [
        f"{method.upper()} {path} {parameter['name']}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if not parameter.get("description")
    ]
    assert undescribed == []
    operations = [o for operations in schema["paths"].values() for o in operations.values()]
    assert all(o.get("description") for o in operations)  # the handlers' docstrings
    shapes = schema["components"]["schemas"]
    assert [name for name, shape in shapes.items() if not shape.get("description")] == []
    # ... and so does every field of every shape.
    undescribed = [
        f"{name}.{field}"
        for name, shape in shapes.items()
        for field, value in shape.get("properties", {}).items()
        if not value.get("description")
    ]
    assert undescribed == []
    # A field's description stays on the field: a shape or enumeration it names keeps its own.
    assert shapes["VerificationOut"]["description"].startswith("Public facts about a sealed")
    assert shapes["Status"]["description"].startswith("Whether a registration stands")
    assert [o["summary"] for o in operations if " " not in o["summary"]] == [
        "Health",
        "Ready",
        "Login",
    ]  # not a function name run together, as Litestar makes one without a summary


def test_unknown_path_is_a_problem(server: str) -> None:
    status, content_type, body = _get(server + "/no/such/thing")
    assert status == 404
    assert content_type == "application/problem+json"
    assert body["status"] == 404


def test_storage_outage_makes_ready_a_503_problem(tmp_path: Path) -> None:
    env = clean_env()
    servers = serve(tmp_path, env)
    base = next(servers)
    try:
        blobs = tmp_path / "var" / "blobs"
        blobs.rename(tmp_path / "var" / "moved")
        blobs.write_text("not a directory")  # the store can no longer create its files
        status, content_type, body = _get(base + "/ready")
        assert status == 503
        assert content_type == "application/problem+json"
        assert body["type"].endswith("/storage-unavailable")
        assert "Traceback" not in json.dumps(body)
    finally:
        servers.close()


def test_sigterm_lets_in_flight_registrations_finish(tmp_path: Path) -> None:
    """Stopping the server under load: every registration is either answered or absent."""
    env = clean_env()
    password = "graceful-password-1"
    proc, base = start_server(tmp_path, env, "--admin-password", password)
    try:
        token = httpx.post(
            base + "/api/v1/auth/token", json={"username": "admin", "password": password}
        ).json()["access_token"]
        acknowledged: list[int] = []
        refused: list[str] = []
        lock = threading.Lock()
        pdf = greek_pdf("Αίτηση κατά τη διακοπή")

        def client() -> None:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
                while True:
                    try:
                        answer = c.post(
                            "/api/v1/registrations",
                            data={
                                "metadata": json.dumps(
                                    {"direction": "incoming", "subject": "Αίτηση"}
                                )
                            },
                            files=[("files", ("a.pdf", pdf, "application/pdf"))],
                            timeout=30,
                        )
                    except httpx.TransportError as exc:  # the server has gone
                        with lock:
                            refused.append(type(exc).__name__)
                        return
                    with lock:
                        if answer.status_code != 201:
                            refused.append(str(answer.status_code))
                            return
                        acknowledged.append(answer.json()["number"])

        clients = [threading.Thread(target=client) for _ in range(8)]
        for t in clients:
            t.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        # Uvicorn finishes the requests it has, then exits with the signal it got.
        assert proc.wait(timeout=60) in {0, -signal.SIGTERM}
        for t in clients:
            t.join(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(refused) == 8  # each client stopped only because the server went away

    with open_archive(tmp_path, env) as archive:
        stored = sorted(e.number for e in archive.list(limit=500).items)
        assert stored == list(range(1, len(stored) + 1))  # no gap
        assert stored == sorted(acknowledged)  # nothing half-done, nothing unanswered
        assert archive.fsck().ok


def test_several_server_processes_share_one_set_of_background_jobs(tmp_path: Path) -> None:
    env = clean_env()
    password = "workers-password-1"
    proc, base = start_server(tmp_path, env, "--admin-password", password, workers=2)
    try:
        token = httpx.post(
            base + "/api/v1/auth/token", json={"username": "admin", "password": password}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        metadata = {"direction": "incoming", "subject": "Αίτηση για κλάδεμα πλατάνου"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for _ in range(6):  # new connections: the kernel spreads them over the workers
                with httpx.Client(base_url=base, headers=headers, timeout=30) as fresh:
                    fresh.post(
                        "/api/v1/registrations", files={"metadata": (None, json.dumps(metadata))}
                    ).raise_for_status()
            deadline = time.monotonic() + 20
            while True:  # indexed by the jobs of the serving command, once
                found = client.get("/api/v1/search", params={"q": "πλάτανος"}).json()
                if found["total"] == 6 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert found["total"] == 6
        log = (tmp_path / "server.log").read_text()
        assert log.count("Started server process") == 2
    finally:
        stop_server(proc, timeout=60)


def test_a_verification_server_without_the_signing_key_answers_codes(tmp_path: Path) -> None:
    env = clean_env()
    init_archive(tmp_path, env)
    issued = run_cli(
        "certificate", "issue", "--template", "generic", "--json",
        "--field", "full_name=Ελένη Μαρκάκη", "--field", "statement=είναι δημότης.",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    code = json.loads(issued.stdout)["verification_code"]
    # The public server runs where the private key is not.
    (tmp_path / "var" / "signing.p12").rename(tmp_path / "signing.p12.elsewhere")
    proc, base = launch_server(tmp_path, env)
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            answer = client.get(f"/verify/{code}", headers={"Accept": "application/json"})
            assert answer.status_code == 200 and answer.json()["status"] == "valid"
            form = client.get("/verify")
            assert form.status_code == 200 and 'name="code"' in form.text
            assert 'name="file"' not in form.text  # no file check offered that would fail
            pdf = {"file": ("x.pdf", greek_pdf("Χ"), "application/pdf")}
            refused = client.post("/api/v1/verify", files=pdf)
            assert refused.status_code == 503
            assert refused.headers["content-type"] == "application/problem+json"
    finally:
        stop_server(proc)
