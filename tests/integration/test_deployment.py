"""The deployment files of ``docs/deploy/`` work as written.

nginx (Debian's, installed by the test command) runs the documented site in front of a
real ``eprotocol serve``, with its ports and certificate paths changed for the test and
nothing else; systemd checks the documented units.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import expect

from eprotocol.env import SETTINGS
from tests.pdfs import make_pdf
from tests.support import chromium, clean_env, free_port, serve

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy"
NGINX = Path(shutil.which("nginx") or "/usr/sbin/nginx")
HOST = "protocol.example.gr"
PASSWORD = "proxy-admin-password"
#: The largest upload the server is given here, below the documented nginx limit.
MAX_UPLOAD_MB = 5


@dataclass
class Proxied:
    """A server behind nginx: its https and http addresses, and the CA that trusts nginx."""

    https: str
    http: str
    trust: ssl.SSLContext

    def client(self, *, source: str = "127.0.0.1") -> httpx.Client:
        """A client of the https site, connecting from ``source`` (any 127.x address)."""
        return httpx.Client(
            base_url=self.https,
            headers={"Host": HOST},
            transport=httpx.HTTPTransport(verify=self.trust, local_address=source),
            timeout=60,
        )


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem, key_file = directory / "site.pem", directory / "site.key"
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pem, key_file


def _site(directory: Path, *, upstream: int, https: int, http: int) -> Path:
    """The documented site, with the test's ports and certificate and nothing else changed."""
    pem, key = _certificate(directory)
    site = (DEPLOY / "nginx.conf").read_text()
    for documented, here in (
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        (f"/etc/ssl/certs/{HOST}.pem", str(pem)),
        (f"/etc/ssl/private/{HOST}.key", str(key)),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};"),
    ):
        assert site.count(documented) == 1, documented
        site = site.replace(documented, here)
    main = directory / "nginx-main.conf"
    main.write_text(
        f"""user root;
worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{}}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client-body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
{site}
}}
"""
    )
    return main


def _listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert proc.poll() is None, "nginx stopped at start"
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    root = tmp_path_factory.mktemp("deployed")
    env = clean_env()
    env |= {"EPROTOCOL_PUBLIC_URL": f"https://{HOST}", "EPROTOCOL_MAX_UPLOAD_MB": "5"}
    servers = serve(root, env, "--admin-password", PASSWORD)
    upstream = int(next(servers).rsplit(":", 1)[1])
    https, http = free_port(), free_port()
    nginx_dir = root / "nginx"
    nginx_dir.mkdir()
    config = _site(nginx_dir, upstream=upstream, https=https, http=http)
    checked = subprocess.run(
        [str(NGINX), "-t", "-p", str(nginx_dir), "-c", str(config)], capture_output=True
    )
    assert checked.returncode == 0, checked.stderr.decode()
    nginx = subprocess.Popen(
        [str(NGINX), "-p", str(nginx_dir), "-c", str(config)], stderr=subprocess.DEVNULL
    )
    try:
        _listening(https, nginx)
        trust = ssl.create_default_context(cafile=str(nginx_dir / "site.pem"))
        trust.check_hostname = False  # the test reaches it as 127.0.0.1, the name in Host
        yield Proxied(f"https://127.0.0.1:{https}", f"http://127.0.0.1:{http}", trust)
    finally:
        nginx.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait()
        next(servers, None)


def _token(client: httpx.Client, username: str = "admin", password: str = PASSWORD) -> int:
    return client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    ).status_code


def test_plain_http_is_sent_to_https(proxied: Proxied) -> None:
    answer = httpx.get(f"{proxied.http}/verify", headers={"Host": HOST})
    assert answer.status_code == 301
    assert answer.headers["location"] == f"https://{HOST}/verify"


def test_pages_over_https_set_secure_cookies(proxied: Proxied) -> None:
    with proxied.client() as client:
        page = client.get("/login")
    assert page.status_code == 200
    cookie = page.headers["set-cookie"]
    assert "eprotocol_csrf=" in cookie
    assert re.search(r";\s*secure", cookie, re.IGNORECASE), cookie


def test_scanned_documents_larger_than_nginx_s_default_are_registered(proxied: Proxied) -> None:
    """nginx refuses bodies over 1 MB by default; a town hall's scans are larger."""
    scan = make_pdf(pages=300, padding=7000)
    assert 1.5 * 1024 * 1024 < len(scan) < MAX_UPLOAD_MB * 1024 * 1024
    too_large = b"%PDF-1.7\n" + os.urandom((MAX_UPLOAD_MB + 1) * 1024 * 1024)
    with proxied.client() as client:
        token = client.post(
            "/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        metadata = '{"direction": "incoming", "subject": "Σαρωμένη αίτηση"}'
        registered = client.post(
            "/api/v1/registrations",
            files=[
                ("metadata", (None, metadata)),
                ("files", ("scan.pdf", scan, "application/pdf")),
            ],
        )
        assert registered.status_code == 201, registered.text
        assert registered.json()["files"][0]["size"] == len(scan)
        refusals = [
            client.post(
                "/api/v1/registrations",
                files=[
                    ("metadata", (None, metadata)),
                    ("files", ("scan.pdf", too_large, "application/pdf")),
                ],
            )
            for _ in range(3)  # (answered while the body still arrived, most became 502s)
        ]
    for refused in refusals:  # eprotocol's own answer, which names the limit, not nginx's
        assert refused.status_code == 413
        assert refused.headers["content-type"] == "application/problem+json"
        assert f"larger than the {MAX_UPLOAD_MB} MB" in refused.json()["detail"]


def test_failed_logins_are_counted_by_the_caller_s_own_address(proxied: Proxied) -> None:
    """Not by nginx's: mistakes in one office must not lock out another."""
    with proxied.client(source="127.0.0.2") as careless:
        attempts = [_token(careless, f"nobody-{uuid.uuid4().hex[:8]}", "wrong") for _ in range(50)]
        assert set(attempts) == {401}
        assert _token(careless) == 429  # this address is throttled now, even for the right password
    with proxied.client(source="127.0.0.3") as other_office:
        assert _token(other_office) == 200


def test_a_flood_of_public_file_checks_is_bounded_for_all_addresses_together(
    proxied: Proxied,
) -> None:
    """Each address stays under eprotocol's own limit (60 per address); nginx bounds the sum,
    in eprotocol's form: problem+json for the API, a page in Greek for the citizens' form."""
    pdf = make_pdf(pages=1)

    def check(source: str, path: str) -> httpx.Response:
        with proxied.client(source=source) as client:
            return client.post(path, files={"file": ("έγγραφο.pdf", pdf, "application/pdf")})

    sources = [f"127.0.1.{i}" for i in range(1, 41)]
    with ThreadPoolExecutor(max_workers=len(sources)) as pool:
        answers = list(
            pool.map(check, sources, ["/api/v1/verify", "/verify"] * (len(sources) // 2))
        )
    checked = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    assert len(checked) + len(refused) == len(answers), {a.status_code for a in answers}
    assert 20 <= len(checked) < len(answers)  # 20 wait their turn; the rest are refused
    for answer in refused:
        assert answer.headers["retry-after"] == "10"
        if answer.request.url.path == "/verify":
            assert answer.headers["content-type"] == "text/html; charset=utf-8"
            assert "Ελέγχονται πολλά έγγραφα αυτή τη στιγμή" in answer.text
        else:
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["type"].endswith("/too-many-checks")
    with proxied.client() as client:  # looking a code up is not a file check
        assert client.get("/verify", params={"code": "7KQ3-M9XD-T4PA-2HWN"}).status_code == 303


def test_staff_log_in_and_register_a_scan_through_the_proxy(
    proxied: Proxied, tmp_path: Path
) -> None:
    """The pages over https, as staff in another building use them."""
    scan = tmp_path / "σάρωση.pdf"
    scan.write_bytes(make_pdf(pages=300, padding=7000))
    with chromium() as browser:
        context = browser.new_context(locale="el-GR", ignore_https_errors=True)
        page = context.new_page()
        page.goto(f"{proxied.https}/login")
        page.get_by_label("Όνομα χρήστη").fill("admin")
        page.get_by_label("Κωδικός πρόσβασης").fill(PASSWORD)
        page.get_by_role("button", name="Σύνδεση").click()
        expect(page.get_by_role("button", name="Αποσύνδεση")).to_be_visible()
        assert page.url.startswith(f"{proxied.https}/")
        cookies = context.cookies()
        assert {c["name"] for c in cookies} >= {"eprotocol_csrf"}
        assert all(c["secure"] for c in cookies), cookies
        page.goto(f"{proxied.https}/register")
        page.locator("#files").set_input_files(str(scan))
        page.locator("#subject").fill("Σαρωμένη αίτηση από άλλο κτίριο")
        page.get_by_role("button", name="Καταχώριση και απόδοση αριθμού").click()
        expect(page.get_by_test_id("protocol-number")).to_have_text(re.compile(r"^\d+/\d{4}$"))
        expect(page.locator(".subject-line")).to_have_text("Σαρωμένη αίτηση από άλλο κτίριο")
        context.close()


@pytest.mark.parametrize("unit", ["eprotocol.service", "eprotocol-worker.service"])
def test_systemd_accepts_the_units(unit: str, tmp_path: Path) -> None:
    documented = "/srv/eprotocol/.venv/bin/eprotocol"
    text = (DEPLOY / unit).read_text()
    assert text.count(documented) == 1
    here = Path(sys.executable).with_name("eprotocol")  # as installed in this environment
    (tmp_path / unit).write_text(text.replace(documented, str(here)))
    checked = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / unit)], capture_output=True, text=True
    )
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")


def test_the_example_settings_are_settings() -> None:
    names = re.findall(r"^#?(EPROTOCOL_[A-Z0-9_]+)=", (DEPLOY / "eprotocol.env").read_text(), re.M)
    assert names
    assert set(names) <= SETTINGS
