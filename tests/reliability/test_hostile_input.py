"""Generated hostile input against a running server: 4xx problems, never 5xx, never a trace.

A refused request leaves the book, the counter, the outbox and the blob store as
they were; an accepted one stores exactly what was sent, and text shown on a page
is escaped there.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import pdfs
from tests.reliability.harness import PASSWORD
from tests.support import clean_env, init_archive, launch_server, login, open_archive, stop_server

GOOD = pdfs.make_pdf(1, text="Citizen request")
#: Rows that a registration adds to; a refused request must change none of them.
TABLES = ("registration", "registration_file", "book_counter", "outbox_event", "cancellation")
MAX_UPLOAD_MB = 2

INJECTIONS = [
    "'; DROP TABLE registration; --",
    "1' OR '1'='1",
    "Robert'); DELETE FROM audit_event WHERE ('1'='1",
    "<script>alert('xss')</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}} ${7*7} <%= 7*7 %>",
    "javascript:alert(1)",
    "Αίτηση\u202eγια\u202c κλάδεμα",  # right-to-left override
    "Ζ\u200bωή\u200d",  # zero-width characters
    "Ά" * 3 + "\u0301\u0301",  # stacked combining accents
    "\x00NUL",
    "line\r\nInjected-Header: 1",
    "../../etc/passwd",
    "%00%2e%2e%2f",
    "𝔇𝔥𝔪𝔬𝔰 🏛️",
]
TEXT_FIELDS = ("subject", "sender", "sender_reference", "channel", "classification_code", "book")


@dataclass
class Server:
    """The running server, its archive's database and blob directory, and tokens."""

    base: str
    root: Path
    admin: str
    staff: str
    secret_key: str
    engine: sa.Engine

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.base, headers=headers, timeout=60)

    def traces(self) -> tuple[list[int], int]:
        """Row counts of the registration tables, the counter's sum, and the stored blobs."""
        with self.engine.connect() as conn:
            counts = [
                conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
                for table in TABLES
            ]
            counts.append(
                conn.exec_driver_sql("SELECT sum(last_number) FROM book_counter").scalar_one()
            )
        blobs = sum(1 for p in (self.root / "var" / "blobs").rglob("*") if p.is_file())
        return counts, blobs


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("hostile")
    env = clean_env(EPROTOCOL_MAX_UPLOAD_MB=str(MAX_UPLOAD_MB))
    init_archive(root, env, "--admin-password", PASSWORD)
    proc, base = launch_server(root, env)
    engine = sa.create_engine(f"sqlite:///{root / 'var' / 'eprotocol.db'}")
    try:
        admin = login(base, "admin", PASSWORD)
        with open_archive(root, env) as archive:  # a staff member: may register, not cancel
            archive.add_department("KEP", "Τμήμα ΚΕΠ", by="admin")
            archive.add_user("maria", "Μαρία Κ.", department="KEP", roles=["staff"], by="admin")
            archive.set_password("maria", PASSWORD, by="admin")
        yield Server(
            base,
            root,
            admin,
            login(base, "maria", PASSWORD),
            (root / "var" / "secret-key").read_text().strip(),
            engine,
        )
    finally:
        engine.dispose()
        stop_server(proc)


def assert_refused(answer: httpx.Response, *statuses: int) -> None:
    """A 4xx problem (one of ``statuses`` if given) with no stack trace in it."""
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:500])
    if statuses:
        assert answer.status_code in statuses, (answer.status_code, answer.text[:500])
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    assert "Traceback" not in answer.text


def post_registration(
    server: Server, metadata: str, files: list[tuple[str, bytes]]
) -> httpx.Response:
    with server.client(server.admin) as client:
        return client.post(
            "/api/v1/registrations",
            data={"metadata": metadata},
            files=[("files", (name, content, "application/pdf")) for name, content in files],
        )


def registration_answer(
    server: Server, metadata: str, files: list[tuple[str, bytes]]
) -> httpx.Response:
    """Post a registration; refused ones must leave no trace, accepted ones keep the bytes."""
    before = server.traces()
    answer = post_registration(server, metadata, files)
    if answer.status_code == 201:
        body = answer.json()
        with server.client(server.admin) as client:
            for sent, stored in zip(files, body["files"], strict=True):
                got = client.get(
                    f"/api/v1/registrations/{body['year']}/{body['number']}/files/{stored['id']}"
                )
                assert hashlib.sha256(got.content).digest() == hashlib.sha256(sent[1]).digest()
    else:
        assert_refused(answer)
        assert server.traces() == before
    return answer


def metadata(**fields: Any) -> str:
    return json.dumps({"direction": "incoming", "subject": "Αίτηση πολίτη"} | fields)


def _mutate(data: bytes, cuts: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for at, length, junk in cuts:
        at %= max(1, len(out))
        out[at : at + length] = junk
    return bytes(out)


mutated_pdfs = st.builds(
    _mutate,
    st.sampled_from([GOOD, pdfs.with_javascript(), pdfs.encrypted()]),
    st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 64), st.binary(max_size=64)),
        min_size=1,
        max_size=4,
    ),
)
mislabelled = st.sampled_from(
    [
        pdfs.HTML,
        pdfs.polyglot(),
        b"PK\x03\x04" + b"\x00" * 100,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
        b"\x7fELF\x02\x01\x01" + b"\x00" * 200,
        b"",
        b"%PDF-",
        b"%PDF-1.7\n" + b"\xff" * 300,
    ]
) | st.binary(max_size=2048)

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@FUZZ
@given(content=mutated_pdfs | mislabelled)
def test_malformed_and_mislabelled_files(server: Server, content: bytes) -> None:
    registration_answer(server, metadata(), [("αίτηση.pdf", content)])


@FUZZ
@given(name=st.text(min_size=1, max_size=300) | st.sampled_from(INJECTIONS))
def test_filenames(server: Server, name: str) -> None:
    answer = registration_answer(server, metadata(), [(name, GOOD)])
    if answer.status_code == 201:
        stored = answer.json()["files"][0]["filename"]
        assert "/" not in stored and "\\" not in stored and "\u202e" not in stored


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=8,
)


@FUZZ
@given(
    text=st.text(max_size=200)
    | st.builds(json.dumps, json_values)
    | st.builds(
        lambda key, value: metadata(**{key: value}),
        st.sampled_from([*TEXT_FIELDS, "direction", "recipients", "sender_date", "confidential"]),
        json_values,
    )
)
def test_bad_metadata(server: Server, text: str) -> None:
    registration_answer(server, text, [("αίτηση.pdf", GOOD)])


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_injection_in_every_text_field_is_kept_as_text(server: Server, field: str) -> None:
    for payload in INJECTIONS:
        answer = registration_answer(server, metadata(**{field: payload}), [("a.pdf", GOOD)])
        if answer.status_code != 201:
            continue  # refused (control characters, an unknown book …) without trace
        body = answer.json()
        with server.client(server.admin) as client:
            again = client.get(f"/api/v1/registrations/{body['year']}/{body['number']}").json()
        assert again[field] == body[field] == payload
    with server.engine.connect() as conn:  # the tables are all still there
        assert conn.exec_driver_sql("SELECT count(*) FROM registration").scalar_one() > 0
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_event").scalar_one() > 0


def test_recipients_list_with_injections(server: Server) -> None:
    answer = registration_answer(
        server, metadata(direction="outgoing", recipients=INJECTIONS[:7]), [("a.pdf", GOOD)]
    )
    assert answer.status_code == 201
    assert answer.json()["recipients"] == INJECTIONS[:7]


def test_text_is_escaped_on_the_public_verify_page(server: Server) -> None:
    """The subject of a sealed outgoing document is its title there; codes are echoed too."""
    script = "<script>alert('xss')</script> Βεβαίωση <b>Παπαδάκη</b>"
    answer = post_registration(  # sealed: what is stored is the stamped PDF, not these bytes
        server,
        metadata(direction="outgoing", subject=script, recipients=["Ι. Παπαδάκης"], seal=True),
        [("βεβαίωση.pdf", GOOD)],
    )
    assert answer.status_code == 201, answer.text
    code = answer.json()["verification_code"]
    html = {"Accept": "text/html"}
    page = httpx.get(f"{server.base}/verify/{code}", headers=html)
    assert page.status_code == 200
    assert "&lt;script&gt;alert(" in page.text and "&lt;b&gt;Παπαδάκη&lt;/b&gt;" in page.text
    assert "<script>" not in page.text and "<b>" not in page.text
    echoed = httpx.get(f"{server.base}/verify/{quote(script, safe='')}", headers=html)
    assert echoed.status_code < 500 and "<script>" not in echoed.text


def test_oversize_bodies(server: Server) -> None:
    big = b"%PDF-1.7\n" + b"0" * (MAX_UPLOAD_MB * 1024 * 1024 + 1)
    before = server.traces()
    assert_refused(post_registration(server, metadata(), [("big.pdf", big)]), 413)
    with server.client(server.admin) as client:
        assert_refused(
            client.post("/api/v1/auth/token", content=b"{" * (MAX_UPLOAD_MB * 1024 * 1024 + 1)),
            400,
            413,
        )
    assert server.traces() == before


BROKEN_MULTIPART = [
    ("multipart/form-data", b"not multipart at all"),
    ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data\r\n\r\n"),
    (
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{"direction"',
    ),
    (
        "multipart/form-data; boundary=xyz",
        b'--abc\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{}\r\n--abc--\r\n',
    ),
    (
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.pdf"\r\n\r\n'
        + GOOD
        + b"\r\n--xyz--\r\n",
    ),
    ("application/json", b'{"direction": "incoming", "subject": "x"}'),
    ("text/plain", b"\xff\xfe\x00"),
    ("multipart/form-data; boundary=" + "x" * 5000, b"--"),
]


@pytest.mark.parametrize(("content_type", "body"), BROKEN_MULTIPART)
def test_broken_multipart(server: Server, content_type: str, body: bytes) -> None:
    before = server.traces()
    with server.client(server.admin) as client:
        answer = client.post(
            "/api/v1/registrations", content=body, headers={"Content-Type": content_type}
        )
    assert_refused(answer)
    assert server.traces() == before


def _token(secret: str, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "admin", "iat": now, "exp": now + 3600} | claims, secret, "HS256")


def test_forged_expired_and_other_users_tokens(server: Server) -> None:
    now = int(time.time())
    header, payload, signature = server.admin.split(".")
    forged = [
        _token("another-key-" + "k" * 32),  # signed with another key
        _token(server.secret_key, exp=now - 60),  # expired
        _token(server.secret_key, sub="nobody"),  # no such user
        jwt.encode({"sub": "admin", "exp": now + 3600}, key="", algorithm="none"),  # unsigned
        f"{header}.{payload}x.{signature}",  # a changed payload
        server.admin[:-4],  # a cut signature
        "ep_" + "A" * 40,  # a made-up API token
        "\u202e" + server.admin,
    ]
    before = server.traces()
    for authorization in [f"Bearer {token}".encode() for token in forged] + [b"Bearer", b"Basic x"]:
        headers = {b"Authorization": authorization}
        with httpx.Client(base_url=server.base, timeout=30) as client:
            answer = client.post(
                "/api/v1/registrations",
                headers=headers,
                data={"metadata": metadata()},
                files=[("files", ("a.pdf", GOOD, "application/pdf"))],
            )
            assert_refused(answer, 401)
            listing = client.get("/api/v1/registrations", headers=headers)
            assert_refused(listing, 401)
    assert server.traces() == before

    # A valid token of another user gets that user's rights, not more.
    secret = registration_answer(server, metadata(confidential=True), [("a.pdf", GOOD)]).json()
    with server.client(server.staff) as maria:
        ref = f"/api/v1/registrations/{secret['year']}/{secret['number']}"
        assert_refused(maria.get(ref), 404)  # confidential: not even its existence
        assert_refused(
            maria.post(ref + "/cancel", json={"reason": "x", "authorisation": "y"}), 403, 404
        )
        assert_refused(maria.get("/api/v1/audit"), 403)
