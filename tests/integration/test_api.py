"""The HTTP API against a real `eprotocol serve` process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from eprotocol import Archive
from eprotocol.env import settings_from_env
from tests.pdfs import greek_pdf
from tests.support import PgServer, run_cli, serve

PASSWORD = "σωστός-κωδικός-1"
USERS = {
    # user name: (department, role)
    "clerk": (None, "clerk"),
    "kep.head": ("DIOIK.KEP", "head"),
    "kep.staff": ("DIOIK.KEP", "staff"),
    "roads.staff": ("TECH.ROADS", "staff"),
    "auditor": (None, "auditor"),
}


@dataclass
class Api:
    """A running server and a bearer token per user."""

    base: str
    tokens: dict[str, str]
    pid: int

    def client(self, user: str | None) -> httpx.Client:
        headers = {} if user is None else {"Authorization": f"Bearer {self.tokens[user]}"}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server per database for the module's tests, with departments and users."""
    tmp_path = tmp_path_factory.mktemp("api")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPROTOCOL_")}
    env["EPROTOCOL_MAX_UPLOAD_MB"] = "5"
    env["EPROTOCOL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'eprotocol.db'}"
    env["EPROTOCOL_STORAGE_URL"] = f"file://{tmp_path / 'blobs'}"
    database = f"t_{uuid.uuid4().hex[:12]}"
    pg: PgServer | None = None
    if request.param == "postgresql":
        pg = request.getfixturevalue("pg_server")
        env["EPROTOCOL_DATABASE_URL"] = pg.create_database(database)
    servers = serve(tmp_path, env, "--admin-password", PASSWORD)
    base = next(servers)
    try:
        settings = settings_from_env(env | {"EPROTOCOL_SECRET_KEY": "unused"})
        with Archive(dataclasses.replace(settings.archive, index_dir=None)) as archive:
            for code, name, parent in (
                ("DIOIK", "Διεύθυνση Διοικητικών Υπηρεσιών", None),
                ("DIOIK.KEP", "Τμήμα ΚΕΠ", "DIOIK"),
                ("TECH", "Διεύθυνση Τεχνικών Υπηρεσιών", None),
                ("TECH.ROADS", "Τμήμα Οδοποιίας", "TECH"),
            ):
                archive.add_department(code, name, parent=parent, by="admin")
            for name, (department, role) in USERS.items():
                archive.add_user(
                    name, name.title(), department=department, roles=[role], by="admin"
                )
                if name != "clerk":
                    archive.set_password(name, PASSWORD, by="admin")
        # The clerk's password is set the way the IT team would: with the command line.
        setting = run_cli(
            "user", "password", "clerk", "--password", PASSWORD, env=env, cwd=tmp_path
        )
        assert setting.returncode == 0, setting.stderr
        tokens = {}
        with httpx.Client(base_url=base) as anonymous:
            for name in [*USERS, "admin"]:
                answer = anonymous.post(
                    "/api/v1/auth/token", json={"username": name, "password": PASSWORD}
                )
                assert answer.status_code == 200, answer.text
                tokens[name] = answer.json()["access_token"]
        pid = int(next(p for p in Path("/proc").iterdir() if _serves(p, tmp_path)).name)
        yield Api(base, tokens, pid)
    finally:
        servers.close()
        if pg is not None:
            pg.drop_database(database)


def _serves(proc: Path, cwd: Path) -> bool:
    try:
        return (
            proc.name.isdigit()
            and b"serve" in (proc / "cmdline").read_bytes()
            and (proc / "cwd").resolve() == cwd
        )
    except OSError:
        return False


def register(
    api: Api, user: str, *, confidential: bool = False, subject: str = ""
) -> httpx.Response:
    metadata = {
        "direction": "incoming",
        "subject": subject or "Αίτηση για βεβαίωση μόνιμης κατοικίας στα Χανιά",
        "sender": "Καλογερόπουλος Ιωάννης",
        "confidential": confidential,
    }
    pdf = greek_pdf("Βεβαίωση μόνιμης κατοικίας")
    with api.client(user) as client:
        return client.post(
            "/api/v1/registrations",
            data={"metadata": json.dumps(metadata)},
            files=[("files", ("αίτηση.pdf", pdf, "application/pdf"))],
        )


def test_login_register_read_download_cancel(api: Api) -> None:
    with httpx.Client(base_url=api.base) as anonymous:
        wrong = anonymous.post("/api/v1/auth/token", json={"username": "clerk", "password": "x"})
        assert wrong.status_code == 401
        assert wrong.headers["content-type"] == "application/problem+json"
        assert anonymous.get("/api/v1/registrations/2026/1").status_code == 401
    created = register(api, "clerk")
    assert created.status_code == 201, created.text
    entry = created.json()
    year, number = entry["year"], entry["number"]
    assert entry["protocol_number"] == f"{number}/{year}"
    assert entry["status"] == "active"
    (file,) = entry["files"]
    with api.client("kep.staff") as client:
        got = client.get(f"/api/v1/registrations/{year}/{number}")
        assert got.status_code == 200
        assert got.json()["subject"] == entry["subject"]
        download = client.get(f"/api/v1/registrations/{year}/{number}/files/{file['id']}")
        assert download.status_code == 200
        assert hashlib.sha256(download.content).hexdigest() == file["sha256"]
        assert download.headers["etag"] == f'"{file["sha256"]}"'
        assert download.headers["content-disposition"].startswith("attachment;")
        assert download.headers["x-content-type-options"] == "nosniff"
        refused = client.post(
            f"/api/v1/registrations/{year}/{number}/cancel",
            json={"reason": "λάθος", "authorisation": "-"},
        )
        assert refused.status_code == 403
    with api.client("clerk") as client:
        cancelled = client.post(
            f"/api/v1/registrations/{year}/{number}/cancel",
            json={"reason": "Διπλή καταχώριση", "authorisation": "Απόφαση 3/2026"},
        )
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
    with api.client("auditor") as client:
        actions = [e["action"] for e in client.get("/api/v1/audit", params={"limit": 1000}).json()]
        assert "file.downloaded" in actions
        assert client.get("/api/v1/audit/verify").json()["ok"] is True
    with api.client("kep.staff") as client:
        assert client.get("/api/v1/audit").status_code == 403


def test_confidential_entries_are_hidden_from_outsiders(api: Api) -> None:
    entry = register(api, "clerk", confidential=True).json()
    path = f"/api/v1/registrations/{entry['year']}/{entry['number']}"
    with api.client("clerk") as client:
        assert (
            client.post(path + "/assignments", json={"department": "TECH.ROADS"}).status_code == 201
        )
    expected = {"clerk": 200, "admin": 200, "roads.staff": 200, "kep.staff": 404, "kep.head": 404}
    for user, status in expected.items():
        with api.client(user) as client:
            assert client.get(path).status_code == status, user
            file_id = entry["files"][0]["id"]
            assert client.get(f"{path}/files/{file_id}").status_code == status, user
    missing = f"/api/v1/registrations/{entry['year']}/999999"
    with api.client("kep.staff") as client:
        assert client.get(missing).json()["type"] == client.get(path).json()["type"]


def test_assignment_workflow_inbox_and_search(api: Api) -> None:
    entry = register(api, "clerk", subject="Αίτηση για κλάδεμα δέντρων στην οδό Κυδωνίας").json()
    path = f"/api/v1/registrations/{entry['year']}/{entry['number']}"
    with api.client("clerk") as client:
        assigned = client.post(path + "/assignments", json={"department": "DIOIK.KEP"})
        assert assigned.status_code == 201
    assignment = assigned.json()["id"]
    with api.client("roads.staff") as client:
        assert client.post(f"/api/v1/assignments/{assignment}/accept").status_code == 403
        assert client.get("/api/v1/departments/DIOIK.KEP/inbox").status_code == 403
    with api.client("kep.head") as client:
        inbox = client.get("/api/v1/departments/DIOIK/inbox")
        assert inbox.status_code == 403  # the head of a section does not see the directorate
        inbox = client.get("/api/v1/departments/DIOIK.KEP/inbox").json()
        assert [item["assignment"]["id"] for item in inbox] == [assignment]
    with api.client("kep.staff") as client:
        assert client.post(f"/api/v1/assignments/{assignment}/accept").json()["state"] == "accepted"
        done = client.post(f"/api/v1/assignments/{assignment}/complete", json={})
        assert done.json()["state"] == "completed"
        deadline = time.monotonic() + 10
        while True:  # the embedded server indexes in the background
            found = client.get("/api/v1/search", params={"q": "κλαδέματα Κυδωνιας"}).json()
            if found.get("total") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert [hit["protocol_number"] for hit in found.get("hits", [])] == [
            entry["protocol_number"]
        ], found
        assert "<mark" in found["hits"][0]["highlights"]


def test_bad_input_gets_problems(api: Api) -> None:
    with api.client("clerk") as client:
        sideways = {"metadata": (None, '{"direction": "sideways", "subject": "x"}')}
        bad = client.post("/api/v1/registrations", files=sideways)
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["field"] == "direction"
        not_json = client.post("/api/v1/registrations", files={"metadata": (None, "{")})
        assert not_json.status_code == 422
        not_multipart = client.post("/api/v1/registrations", data={"metadata": "{}"})
        assert not_multipart.status_code == 400
        assert not_multipart.headers["content-type"] == "application/problem+json"
    with api.client("kep.staff") as client:
        assert register(api, "kep.staff").status_code == 403
    with httpx.Client(base_url=api.base, headers={"Authorization": "Bearer forged.token.x"}) as c:
        assert c.get("/api/v1/registrations").status_code == 401


def test_an_oversized_upload_is_refused_quickly_with_flat_memory(api: Api) -> None:
    def rss_kb() -> int:
        status = Path(f"/proc/{api.pid}/status").read_text()
        return int(
            next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]
        )

    before = rss_kb()
    chunk = b"\0" * (1024 * 1024)

    def body() -> Iterator[bytes]:
        boundary = b"--x\r\nContent-Disposition: form-data; name=files; filename=a.pdf\r\n\r\n"
        yield boundary
        for _ in range(200):  # 200 MB against the 5 MB limit of this server
            yield chunk

    started = time.monotonic()
    with api.client("clerk") as client:
        try:
            answer = client.post(
                "/api/v1/registrations",
                content=body(),
                headers={"Content-Type": "multipart/form-data; boundary=x"},
            )
            status = answer.status_code
        except httpx.HTTPError:  # the server may close the connection after answering
            status = 413
    assert status == 413
    assert time.monotonic() - started < 30
    assert rss_kb() - before < 50_000  # kB: the body was never held in memory


def test_failed_logins_are_throttled(api: Api) -> None:
    with httpx.Client(base_url=api.base) as client:
        for _ in range(5):
            answer = client.post(
                "/api/v1/auth/token", json={"username": "auditor", "password": "λάθος"}
            )
            assert answer.status_code == 401
        answer = client.post(
            "/api/v1/auth/token", json={"username": "auditor", "password": PASSWORD}
        )
        assert answer.status_code == 429
        assert int(answer.headers["retry-after"]) > 0
