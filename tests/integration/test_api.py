"""The HTTP API against a real `eprotocol serve` process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from eprotocol.api.auth import CHECKS_PER_ADDRESS
from eprotocol.api.web.public import VERIFY_UPLOAD_MAX
from tests.pdfs import greek_pdf
from tests.support import PgServer, clean_env, open_archive, run_cli, serve

PASSWORD = "σωστός-κωδικός-1"
USERS = {
    # user name: (department, role)
    "clerk": (None, "clerk"),
    "kep.head": ("DIOIK.KEP", "head"),
    "kep.staff": ("DIOIK.KEP", "staff"),
    "roads.staff": ("TECH.ROADS", "staff"),
    "auditor": (None, "auditor"),
    "kep.counter": ("DIOIK.KEP", "issuer"),
}


@dataclass
class Api:
    """A running server and a bearer token per user."""

    base: str
    tokens: dict[str, str]
    pid: int
    #: The server's working directory and environment, for running the command line beside it.
    root: Path
    env: dict[str, str]

    def client(self, user: str | None) -> httpx.Client:
        headers = {} if user is None else {"Authorization": f"Bearer {self.tokens[user]}"}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server per database for the module's tests, with departments and users."""
    tmp_path = tmp_path_factory.mktemp("api")
    env = clean_env()
    env["EPROTOCOL_MAX_UPLOAD_MB"] = "50"
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
        with open_archive(tmp_path, env) as archive:
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
        yield Api(base, tokens, pid, tmp_path, env)
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
    api: Api, user: str, *, confidential: bool = False, subject: str = "", **more: Any
) -> httpx.Response:
    metadata = {
        "direction": "incoming",
        "subject": subject or "Αίτηση για βεβαίωση μόνιμης κατοικίας στα Χανιά",
        "sender": "Καλογερόπουλος Ιωάννης",
        "channel": "counter",
        "confidential": confidential,
        **more,
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
        extra = {"username": "clerk", "password": PASSWORD, "remember": True}
        assert anonymous.post("/api/v1/auth/token", json=extra).status_code == 400
        assert wrong.status_code == 401
        assert wrong.headers["content-type"] == "application/problem+json"
        assert anonymous.get("/api/v1/registrations/2026/1").status_code == 401
    created = register(api, "clerk")
    assert created.status_code == 201, created.text
    entry = created.json()
    year, number = entry["year"], entry["number"]
    assert entry["protocol_number"] == f"{number}/{year}"
    assert entry["status"] == "active"
    assert entry["channel"] == "counter"  # what the application sent, it reads back
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
        events = client.get("/api/v1/audit", params={"limit": 1000}).json()
        downloads = [e["target"] for e in events if e["action"] == "file.downloaded"]
        assert f"{entry['book']}:{number}/{year}" in downloads
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


def search_when_indexed(
    client: httpx.Client, params: dict[str, str], *, at_least: int = 1
) -> dict[str, Any]:
    """The answer of ``GET /api/v1/search`` once it finds ``at_least`` entries (or 10 s have
    passed): the embedded server indexes in the background."""
    deadline = time.monotonic() + 10
    while True:
        found: dict[str, Any] = client.get("/api/v1/search", params=params).json()
        if found.get("total", 0) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


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
        answered = client.get("/api/v1/departments/DIOIK.KEP/inbox")
        assert [item["assignment"]["id"] for item in answered.json()] == [assignment]
        assert answered.headers["X-Total-Count"] == "1"
        beyond = client.get("/api/v1/departments/DIOIK.KEP/inbox", params={"offset": 1})
        assert (beyond.json(), beyond.headers["X-Total-Count"]) == ([], "1")  # paged
        none = client.get("/api/v1/departments/DIOIK.KEP/inbox", params={"limit": 0})
        assert (none.status_code, none.json()["field"]) == (400, "limit")
        assert none.json()["detail"] == "limit: Expected `int` >= 1"
        listed = client.get("/api/v1/registrations", params={"department": "DIOIK"}).json()
        assert entry["protocol_number"] in [e["protocol_number"] for e in listed["items"]]
        others = client.get("/api/v1/registrations", params={"department": "TECH"}).json()
        assert entry["protocol_number"] not in [e["protocol_number"] for e in others["items"]]
    with api.client("kep.staff") as client:
        accepted = client.post(f"/api/v1/assignments/{assignment}/accept")
        assert accepted.json()["state"] == "accepted"
        again = client.post(f"/api/v1/assignments/{assignment}/accept")  # a retry
        assert (again.status_code, again.json()) == (accepted.status_code, accepted.json())
        no_reply = client.post(
            f"/api/v1/assignments/{assignment}/complete", json={"reply": "999999/2026"}
        )
        assert (no_reply.status_code, no_reply.json()["field"]) == (422, "reply")
        not_a_reply = client.post(
            f"/api/v1/assignments/{assignment}/complete", json={"reply": "αρ. 12"}
        )
        assert (not_a_reply.status_code, not_a_reply.json()["field"]) == (422, "reply")
        done = client.post(f"/api/v1/assignments/{assignment}/complete", json={})
        assert done.json()["state"] == "completed"
        work = "/api/v1/departments/DIOIK.KEP/inbox"
        assert client.get(work).json() == []  # open work only, unless asked
        ended = client.get(work, params={"state": ["completed", "withdrawn"]})
        assert [item["assignment"]["id"] for item in ended.json()] == [assignment]
        closed_at = datetime.fromisoformat(done.json()["closed_at"])
        for since, ids in ((closed_at, [assignment]), (closed_at + timedelta(seconds=1), [])):
            since_then = client.get(
                work, params={"state": "completed", "ended_since": since.isoformat()}
            )
            assert [item["assignment"]["id"] for item in since_then.json()] == ids
            assert since_then.headers["X-Total-Count"] == str(len(ids))
        unknown = client.get(work, params={"state": "done"})
        assert (unknown.status_code, unknown.json()["field"]) == (400, "state")
        found = search_when_indexed(client, {"q": "κλαδέματα Κυδωνιας"})
        assert [hit["protocol_number"] for hit in found.get("hits", [])] == [
            entry["protocol_number"]
        ], found
        assert "<mark" in found["hits"][0]["highlights"]


def test_a_request_retried_with_its_idempotency_key_registers_once(api: Api) -> None:
    """A client that lost the answer sends again: the number it was given, not a second one."""
    pdf = greek_pdf("Αίτηση μέσω της εφαρμογής των ΚΕΠ")

    def send(key: str, subject: str = "Αίτηση μέσω ΚΕΠ") -> httpx.Response:
        metadata = {"direction": "incoming", "subject": subject, "sender": "Ε. Βαμβακάς"}
        with api.client("clerk") as client:
            return client.post(
                "/api/v1/registrations",
                data={"metadata": json.dumps(metadata)},
                files=[("files", ("αίτηση.pdf", pdf, "application/pdf"))],
                headers={"Idempotency-Key": key},
            )

    first, again = send("kep-app-000127"), send("kep-app-000127")
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    other = send("kep-app-000127", subject="Άλλη αίτηση")
    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")
    number = first.json()["protocol_number"]
    assert f"already registered {number}, with other contents" in other.json()["detail"]
    assert send("kep-app-000128").json()["number"] == first.json()["number"] + 1
    too_long = send("k" * 101)
    assert (too_long.status_code, too_long.json()["field"]) == (400, "Idempotency-Key")


def test_one_request_registers_relates_and_routes(api: Api) -> None:
    """Metadata `related` and `assignments`: numbered, related and routed in one transaction."""
    first = register(api, "clerk").json()
    created = register(
        api,
        "clerk",
        related=[first["protocol_number"]],
        assignments=[
            {"department": "DIOIK.KEP"},
            {"department": "TECH", "purpose": "information"},
        ],
    )
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["related"] == [f"general:{first['protocol_number']}"]
    with api.client("clerk") as client:
        answered = client.get(f"/api/v1/registrations/{first['year']}/{first['number']}").json()
        assert answered["referenced_by"] == [f"general:{entry['protocol_number']}"]
    secret = register(
        api,
        "clerk",
        confidential=True,
        related=[first["protocol_number"]],
        assignments=[{"department": "DIOIK.KEP"}],
    ).json()
    both = [f"general:{entry['protocol_number']}", f"general:{secret['protocol_number']}"]
    for reader, shown in (("clerk", both), ("kep.staff", both), ("roads.staff", both[:1])):
        with api.client(reader) as client:
            answered = client.get(f"/api/v1/registrations/{first['year']}/{first['number']}")
            assert answered.json()["referenced_by"] == shown, reader
    routed = [(a["department"], a["purpose"], a["state"]) for a in entry["assignments"]]
    assert routed == [("DIOIK.KEP", "action", "pending"), ("TECH", "information", "pending")]
    with api.client("kep.head") as client:
        inbox = client.get("/api/v1/departments/DIOIK.KEP/inbox").json()
        assert entry["protocol_number"] in [item["assignment"]["protocol_number"] for item in inbox]
    for wrong, field, message in (
        ({"assignments": [{"department": "NOPE"}]}, "assignments", "no department 'NOPE'"),
        ({"assignments": [{"department": "TECH", "purpose": "act"}]}, "assignments", "'act'"),
        ({"assignments": [{"department": "TECH", "due": "2026-12-01"}]}, "metadata", "`due`"),
        ({"assignment": [{"department": "TECH"}]}, "metadata", "unknown field `assignment`"),
        ({"related": ["999999/2026"]}, "related", "does not exist"),
    ):
        refused = register(api, "clerk", **wrong)
        assert refused.status_code == 422, wrong
        assert refused.json()["field"] == field and message in refused.json()["detail"], wrong
    after = register(api, "clerk").json()
    assert after["number"] == secret["number"] + 1  # the refused ones used no number


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
        assert {"type", "title", "status", "detail"} <= set(not_multipart.json())
        browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        for path, headers in [
            ("/api/v1/no-such-thing", browser),  # the API's paths answer in its shape
            ("/no-such-page", {"Accept": "application/json"}),
        ]:
            nowhere = client.get(path, headers=headers)
            assert nowhere.status_code == 404
            assert nowhere.headers["content-type"] == "application/problem+json"
            assert nowhere.json()["type"] == "about:blank" and nowhere.json()["detail"]
        entry = register(api, "clerk").json()
        misspelt = client.post(  # the assignee would silently be left out
            f"/api/v1/registrations/{entry['year']}/{entry['number']}/assignments",
            json={"department": "DIOIK.KEP", "asignee": "kep.staff"},
        )
        assert misspelt.status_code == 400, misspelt.text
        assert misspelt.headers["content-type"] == "application/problem+json"
        assert misspelt.json() == {
            "type": "about:blank",
            "title": "Bad Request",
            "status": 400,
            "detail": "Object contains unknown field `asignee`",
        }
        assert (
            client.get(f"/api/v1/registrations/{entry['year']}/{entry['number']}").json()[
                "assignments"
            ]
            == []
        )
        backwards = {"from": "2026-03-31", "to": "2026-03-01"}  # silently nothing, before
        listed = client.get("/api/v1/registrations", params=backwards)
        assert (listed.status_code, listed.json()["field"]) == (422, "to")
        searched = client.get("/api/v1/search", params={"q": "Χανιά", **backwards})
        assert (searched.status_code, searched.json()["field"]) == (422, "to")
        # Named as sent, though the handler's argument is `date_from` (`from` is Python's).
        not_a_day = client.get("/api/v1/registrations", params={"from": "31/03/2026"})
        assert (not_a_day.status_code, not_a_day.json()["field"]) == (400, "from")
        assert not_a_day.json()["detail"] == "from: Invalid RFC3339 encoded date"
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
        for _ in range(200):  # 200 MB against the 50 MB limit of this server
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


def test_public_file_checks_are_limited_per_address(api: Api) -> None:
    """A flood of uploads from one address is refused before the PDF workers; others go on."""
    upload = {"file": ("έγγραφο.pdf", greek_pdf("Έγγραφο"), "application/pdf")}
    flood = {"X-Forwarded-For": "203.0.113.7"}  # as nginx passes the caller's address on
    with httpx.Client(base_url=api.base) as anonymous:
        for _ in range(CHECKS_PER_ADDRESS - 1):
            assert anonymous.post("/api/v1/verify", files=upload, headers=flood).status_code == 200
        page = anonymous.post("/verify", files=upload, headers=flood)  # the page counts as well
        assert page.status_code == 200 and "Αυθεντικό" not in page.text

        refused = anonymous.post("/api/v1/verify", files=upload, headers=flood)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 0 < int(refused.headers["retry-after"]) <= 600
        refused_page = anonymous.post("/verify", files=upload, headers=flood)
        assert refused_page.status_code == 429
        assert "Πάρα πολλοί έλεγχοι αρχείων από αυτή τη διεύθυνση" in refused_page.text
        # By code it is a look-up, not counted; another address checks files as before.
        by_code = anonymous.get("/verify/2222-3333-4444-5555", headers=flood)
        assert by_code.status_code == 200
        other = {"X-Forwarded-For": "203.0.113.8"}
        assert anonymous.post("/api/v1/verify", files=upload, headers=other).status_code == 200


def test_a_file_too_large_to_check_is_refused_saying_the_limit(api: Api) -> None:
    too_large = {
        "file": ("σάρωση.pdf", b"%PDF-1.7\n" + b"0" * VERIFY_UPLOAD_MAX, "application/pdf")
    }
    with httpx.Client(base_url=api.base, headers={"X-Forwarded-For": "203.0.113.9"}) as anonymous:
        refused = anonymous.post("/api/v1/verify", files=too_large)
        assert refused.status_code == 422
        assert refused.json()["detail"] == "the file is larger than 20 MB"
        page = anonymous.post("/verify", files=too_large)
        assert page.status_code == 422 and "20 MB" in page.text


CITIZEN = {
    "full_name": "Ευαγγελία Μαρκάκη",
    "father_name": "Εμμανουήλ",
    "birth_date": "12/05/1975",
    "afm": "090000045",
    "address": "Κυδωνίας 40, Χανιά",
}


def test_certificates_are_issued_and_verified_by_anyone(api: Api) -> None:
    with api.client("kep.counter") as counter:
        templates = counter.get("/api/v1/certificates/templates").json()
        assert "permanent-residence" in [t["code"] for t in templates]
        generic = next(t for t in templates if t["code"] == "generic")
        statement = next(f for f in generic["fields"] if f["name"] == "statement")
        assert statement["hint"].startswith("Συνεχίζει τη φράση «Βεβαιώνεται ότι ο/η")
        request = {"template": "permanent-residence", "fields": CITIZEN}
        key = {"Idempotency-Key": "counter-3-000412"}
        issued = counter.post("/api/v1/certificates", json=request, headers=key)
        assert issued.status_code == 201, issued.text
        body = issued.json()
        code = body["verification_code"]
        # Sent again (the answer was lost): the same certificate, nothing else issued.
        again = counter.post("/api/v1/certificates", json=request, headers=key)
        assert again.json() == body
        assert body["verify_url"].endswith(f"/verify/{code}")
        pdf = counter.get(body["download_url"])
        assert pdf.status_code == 200
        assert hashlib.sha256(pdf.content).hexdigest() == body["registration"]["files"][0]["sha256"]

    with httpx.Client(base_url=api.base) as anonymous:
        as_json = anonymous.get(f"/verify/{code.lower()}", headers={"Accept": "application/json"})
        assert as_json.status_code == 200
        facts = as_json.json()
        assert facts["status"] == "valid"
        assert facts["protocol_number"] == body["protocol_number"]
        assert "Μαρκάκη" not in as_json.text and "090000045" not in as_json.text
        page = anonymous.get(f"/verify/{code}")
        assert page.headers["content-type"].startswith("text/html")
        assert "Έγκυρο έγγραφο" in page.text and "Μαρκάκη" not in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        checked = anonymous.post(
            "/api/v1/verify", files={"file": ("b.pdf", pdf.content, "application/pdf")}
        )
        assert checked.status_code == 200
        assert checked.json()["authentic"] is True
        forged = bytearray(pdf.content)
        forged[pdf.content.index(b"stream") + 40] ^= 1
        refused = anonymous.post(
            "/api/v1/verify", files={"file": ("b.pdf", bytes(forged), "application/pdf")}
        ).json()
        assert refused["authentic"] is False and refused["reasons"]
        malformed = anonymous.get("/verify/not-a-code")
        assert malformed.status_code == 400
        assert malformed.headers["content-type"] == "application/problem+json"
        unknown = anonymous.get("/verify/2222-3333-4444-5555")
        assert unknown.status_code == 200 and "Δεν βρέθηκε" in unknown.text

    year, number = body["registration"]["year"], body["registration"]["number"]
    with api.client("clerk") as clerk:
        clerk.post(
            f"/api/v1/registrations/{year}/{number}/cancel",
            json={"reason": "Λάθος ΑΦΜ", "authorisation": "Πράξη 7/2026"},
        ).raise_for_status()
    with httpx.Client(base_url=api.base, headers={"Accept": "application/json"}) as anonymous:
        assert anonymous.get(f"/verify/{code}").json()["status"] == "cancelled"


def test_certificate_permissions_and_bad_fields(api: Api) -> None:
    with api.client("kep.staff") as staff:
        refused = staff.post(
            "/api/v1/certificates", json={"template": "permanent-residence", "fields": CITIZEN}
        )
        assert refused.status_code == 403
    with api.client("kep.counter") as counter:
        bad = counter.post(
            "/api/v1/certificates",
            json={"template": "permanent-residence", "fields": {**CITIZEN, "afm": "123"}},
        )
        assert bad.status_code == 422 and bad.json()["field"] == "fields.afm"
        unknown = counter.post("/api/v1/certificates", json={"template": "nope", "fields": {}})
        assert unknown.status_code == 404


def test_outgoing_documents_can_be_sealed_and_entries_corrected(api: Api) -> None:
    metadata = {"direction": "outgoing", "subject": "Απάντηση", "seal": True}
    with api.client("clerk") as client:
        sealed = client.post(
            "/api/v1/registrations",
            data={"metadata": json.dumps(metadata)},
            files=[("files", ("apantisi.pdf", greek_pdf("Απάντηση"), "application/pdf"))],
        )
        assert sealed.status_code == 201, sealed.text
        entry = sealed.json()
        assert entry["verification_code"]
        path = f"/api/v1/registrations/{entry['year']}/{entry['number']}"
        corrected = client.post(
            path + "/corrections",
            json={"changes": {"subject": "Απάντηση σε αίτηση"}, "reason": "Σαφέστερο θέμα"},
        )
        assert corrected.status_code == 200, corrected.text
        assert corrected.json()["subject"] == "Απάντηση σε αίτηση"
        system = client.post(
            path + "/corrections", json={"changes": {"number": "7"}, "reason": "x"}
        )
        assert system.status_code == 422 and system.json()["field"] == "number"
        earlier = register(api, "clerk").json()["protocol_number"]
        later = register(api, "clerk").json()
        later_path = f"/api/v1/registrations/{later['year']}/{later['number']}"
        related = client.post(
            later_path + "/corrections",
            json={"changes": {"related": [earlier]}, "reason": "Απάντηση σε αυτό"},
        )
        assert related.status_code == 200, related.text
        assert related.json()["related"] == [f"general:{earlier}"]
        backwards = client.post(
            path + "/corrections",
            json={"changes": {"related": [later["protocol_number"]]}, "reason": "x"},
        )
        assert backwards.status_code == 422 and backwards.json()["field"] == "related"
    with api.client("kep.staff") as staff:
        assert (
            staff.post(
                path + "/corrections", json={"changes": {"subject": "Άλλο"}, "reason": "x"}
            ).status_code
            == 403
        )


# -- the permission matrix ---------------------------------------------------------------

EVERYONE = ["admin", *USERS]
READERS = {"admin", "clerk", "kep.head", "kep.staff", "roads.staff", "auditor"}


@dataclass
class Endpoint:
    """One endpoint of the matrix; ``target`` makes a fresh thing to act on for each call."""

    name: str
    method: str
    target: Callable[[Api], str]
    allowed: set[str]
    body: dict[str, Any] | None = None
    files: dict[str, Any] | None = None
    #: What an identity outside ``allowed`` gets (404 where existence must not leak).
    refused: int = 403
    public: bool = False


def _entry(api: Api, *, confidential: bool = False, assign_to: str | None = None) -> str:
    created = register(api, "clerk", confidential=confidential)
    assert created.status_code == 201, created.text
    entry = created.json()
    path = f"/api/v1/registrations/{entry['year']}/{entry['number']}"
    if assign_to is not None:
        with api.client("clerk") as clerk:
            clerk.post(path + "/assignments", json={"department": assign_to}).raise_for_status()
    return path


def _file(api: Api, **kwargs: Any) -> str:
    path = _entry(api, **kwargs)
    with api.client("clerk") as clerk:
        return f"{path}/files/{clerk.get(path).json()['files'][0]['id']}"


def _assignment(api: Api, step: str) -> str:
    path = _entry(api, assign_to="DIOIK.KEP")
    with api.client("clerk") as clerk:
        assignment = clerk.get(path).json()["assignments"][0]["id"]
    return f"/api/v1/assignments/{assignment}/{step}"


def _accepted(api: Api) -> str:
    """An assignment to DIOIK.KEP its head has accepted (so it can be completed)."""
    accept = _assignment(api, "accept")
    with api.client("kep.head") as head:
        head.post(accept).raise_for_status()
    return accept.removesuffix("/accept")


def _daily_register(api: Api) -> str:
    """A stored daily register (made once per server with the command line)."""
    day = (datetime.now(ZoneInfo("Europe/Athens")) - timedelta(days=2)).date().isoformat()
    if not (api.root / f"daily-register-{day}").exists():
        made = run_cli("daily-register", "--date", day, env=api.env, cwd=api.root)
        assert made.returncode == 0, made.stderr
        (api.root / f"daily-register-{day}").touch()
    return f"/api/v1/daily-registers/{day}"


def _code(api: Api) -> str:
    with api.client("admin") as admin:
        issued = admin.post(
            "/api/v1/certificates", json={"template": "permanent-residence", "fields": CITIZEN}
        )
    return f"/verify/{issued.json()['verification_code']}"


MATRIX = [
    Endpoint("list", "GET", lambda api: "/api/v1/registrations", READERS),
    Endpoint(
        "register",
        "POST",
        lambda api: "/api/v1/registrations",
        {"admin", "clerk"},
        files={
            "metadata": (None, json.dumps({"direction": "incoming", "subject": "Αίτηση"})),
            "files": ("a.pdf", greek_pdf("Αίτηση"), "application/pdf"),
        },
    ),
    Endpoint("read", "GET", _entry, READERS),
    Endpoint("download", "GET", _file, READERS),
    Endpoint(
        "read confidential",
        "GET",
        lambda api: _entry(api, confidential=True, assign_to="TECH.ROADS"),
        {"admin", "clerk", "roads.staff", "auditor"},
        refused=404,
    ),
    Endpoint(
        "download confidential",
        "GET",
        lambda api: _file(api, confidential=True, assign_to="TECH.ROADS"),
        {"admin", "clerk", "roads.staff", "auditor"},
        refused=404,
    ),
    Endpoint(
        "cancel",
        "POST",
        lambda api: _entry(api) + "/cancel",
        {"admin", "clerk"},
        body={"reason": "Λάθος", "authorisation": "Πράξη 1"},
    ),
    Endpoint(
        "correct",
        "POST",
        lambda api: _entry(api) + "/corrections",
        {"admin", "clerk"},
        body={"changes": {"subject": "Διορθωμένο"}, "reason": "Λάθος"},
    ),
    Endpoint(
        "assign",
        "POST",
        lambda api: _entry(api) + "/assignments",
        {"admin", "clerk", "kep.head"},
        body={"department": "DIOIK.KEP"},
    ),
    Endpoint(
        "accept",
        "POST",
        lambda api: _assignment(api, "accept"),
        {"admin", "kep.head", "kep.staff"},
    ),
    # Accepting makes the work the head's own: staff of the section may no longer complete it.
    Endpoint(
        "complete",
        "POST",
        lambda api: _accepted(api) + "/complete",
        {"admin", "kep.head"},
        body={},
    ),
    Endpoint(
        "return",
        "POST",
        lambda api: _assignment(api, "return"),
        {"admin", "kep.head", "kep.staff"},
        body={"reason": "Δεν αφορά το τμήμα"},
    ),
    # The head of DIOIK.KEP may forward only within the section, and DIOIK is above it.
    Endpoint(
        "forward",
        "POST",
        lambda api: _assignment(api, "forward"),
        {"admin", "clerk"},
        body={"department": "DIOIK"},
    ),
    Endpoint(
        "inbox",
        "GET",
        lambda api: "/api/v1/departments/DIOIK.KEP/inbox",
        {"admin", "clerk", "kep.head", "kep.staff", "auditor"},
    ),
    Endpoint("search", "GET", lambda api: "/api/v1/search?q=αίτηση", READERS),
    Endpoint("filing plan", "GET", lambda api: "/api/v1/classifications", set(EVERYONE)),
    Endpoint("departments", "GET", lambda api: "/api/v1/departments", set(EVERYONE)),
    Endpoint("audit", "GET", lambda api: "/api/v1/audit", {"admin", "auditor"}),
    Endpoint("audit verify", "GET", lambda api: "/api/v1/audit/verify", {"admin", "auditor"}),
    Endpoint(
        "templates", "GET", lambda api: "/api/v1/certificates/templates", {"admin", "kep.counter"}
    ),
    Endpoint(
        "issue certificate",
        "POST",
        lambda api: "/api/v1/certificates",
        {"admin", "kep.counter"},
        body={"template": "permanent-residence", "fields": CITIZEN},
    ),
    Endpoint("daily register", "GET", _daily_register, {"admin", "clerk", "auditor"}),
    Endpoint(
        "daily register file",
        "GET",
        lambda api: _daily_register(api) + "/json",
        {"admin", "clerk", "auditor"},
    ),
    Endpoint("verify by code", "GET", _code, set(EVERYONE), public=True),
    Endpoint(
        "verify a file",
        "POST",
        lambda api: "/api/v1/verify",
        set(EVERYONE),
        files={"file": ("a.pdf", greek_pdf("Αίτηση"), "application/pdf")},
        public=True,
    ),
    Endpoint("health", "GET", lambda api: "/health", set(EVERYONE), public=True),
    Endpoint("ready", "GET", lambda api: "/ready", set(EVERYONE), public=True),
]


def test_other_applications_read_the_departments_they_route_to(api: Api) -> None:
    """`GET /api/v1/departments`: the codes assignments name, and which the caller may use."""
    with open_archive(api.root, api.env) as archive:
        archive.add_department("DIOIK.PROM", "Τμήμα Προμηθειών", parent="DIOIK", by="admin")
        closed = archive.close_department("DIOIK.PROM", by="admin").closed_at
    assert closed is not None

    def routable(user: str) -> list[str]:
        with api.client(user) as client:
            listed = client.get("/api/v1/departments").json()
        return [d["code"] for d in listed if d["routable"]]

    with api.client("kep.staff") as client:
        listed = client.get("/api/v1/departments").json()
    assert [d["code"] for d in listed] == sorted(d["code"] for d in listed)
    assert {
        "code": "DIOIK.PROM",
        "name": "Τμήμα Προμηθειών",
        "parent": "DIOIK",
        "closed_at": closed.isoformat().replace("+00:00", "Z"),
        "routable": False,
    } in listed
    assert {"code": "DIOIK.KEP", "name": "Τμήμα ΚΕΠ", "parent": "DIOIK"}.items() <= next(
        d for d in listed if d["code"] == "DIOIK.KEP"
    ).items()
    assert routable("kep.staff") == []  # staff do not route
    assert routable("kep.head") == ["DIOIK.KEP"]  # a head: their own and those below it
    assert routable("clerk") == ["DIOIK", "DIOIK.KEP", "TECH", "TECH.ROADS"]  # all open ones


def test_other_applications_read_the_filing_plan_they_file_under(api: Api) -> None:
    """`GET /api/v1/classifications`: the headings a registration's classification_code names."""
    with open_archive(api.root, api.env) as archive:
        archive.add_classification(
            "Φ.600", "Οδοποιία", retention_years=10, disposal="transfer", by="admin"
        )
    with api.client("kep.staff") as client:
        plan = client.get("/api/v1/classifications").json()
    assert {
        "code": "Φ.600",
        "title": "Οδοποιία",
        "retention_years": 10,
        "disposal": "transfer",
    } in plan
    filed = register(
        api, "clerk", subject="Λακκούβα στον δρόμο για τις Μουρνιές", classification_code="Φ.600"
    )
    assert filed.status_code == 201 and filed.json()["classification_code"] == "Φ.600"
    register(api, "clerk", subject="Αίτηση για πλατεία στις Μουρνιές")
    with api.client("clerk") as client:
        assert search_when_indexed(client, {"q": "Μουρνιές"}, at_least=2)["total"] == 2
        blank = client.get("/api/v1/search", params={"q": "Μουρνιές", "from": "", "year": ""})
        assert blank.json()["total"] == 2  # a parameter without a value is not given
        found = client.get("/api/v1/search", params={"q": "Μουρνιές", "classification": "Φ.600"})
        too_long = client.get(
            "/api/v1/search", params={"q": "Μουρνιές", "classification": "Φ" * 65}
        )
    assert [hit["protocol_number"] for hit in found.json()["hits"]] == [
        filed.json()["protocol_number"]
    ]
    assert found.json()["facets"]["classification"] == {"Φ.600": 1}
    assert (too_long.status_code, too_long.headers["content-type"]) == (
        400,
        "application/problem+json",
    )


@pytest.mark.parametrize("endpoint", MATRIX, ids=[e.name for e in MATRIX])
def test_permission_matrix(api: Api, endpoint: Endpoint) -> None:
    """Every identity on every endpoint: allowed, 403, 404 for hidden entries, 401 anonymous."""
    outcomes = {}
    for who in [*EVERYONE, None]:
        with api.client(who) as client:
            answer = client.request(
                endpoint.method, endpoint.target(api), json=endpoint.body, files=endpoint.files
            )
        outcomes[who or "anonymous"] = answer.status_code
    expected = {who: "allowed" if who in endpoint.allowed else endpoint.refused for who in EVERYONE}
    expected["anonymous"] = "allowed" if endpoint.public else 401
    seen = {who: "allowed" if status < 400 else status for who, status in outcomes.items()}
    assert seen == expected, outcomes
