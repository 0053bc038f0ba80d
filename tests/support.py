"""Helpers shared by the test suites: a settable clock and a throw-away PostgreSQL server."""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import httpx
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from minio import Minio
from playwright.sync_api import Browser, sync_playwright

from eprotocol import Archive, ArchiveConfig, LocalStorageConfig, Registration
from eprotocol.config import SigningConfig
from eprotocol.env import settings_from_env
from eprotocol.pdf.signing import PadesSigner, create_development_identity


class FixedClock:
    """A clock that says what the test tells it to."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._lock = threading.Lock()

    def set(self, now: datetime) -> None:
        with self._lock:
            self._now = now

    def now(self) -> datetime:
        with self._lock:
            return self._now


def our_root(signing: SigningConfig) -> asn1_x509.Certificate:
    """The organisation's certificate, as a trust root for validating its signatures."""
    _, _, der = pem.unarmor(PadesSigner(signing).certificate_pem)
    return asn1_x509.Certificate.load(der)


def all_registrations(archive: Archive) -> Iterator[Registration]:
    """Every registration of the archive, newest first."""
    cursor = None
    while True:
        page = archive.list(limit=500, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def open_archive(root: Path, env: dict[str, str]) -> Archive:
    """The archive a server of ``env`` in ``root`` serves, opened by the test for checking.

    Without its search index: the test reads the book, the server writes the index.
    """
    relative = {
        "EPROTOCOL_DATABASE_URL": f"sqlite:///{root / 'var' / 'eprotocol.db'}",
        "EPROTOCOL_STORAGE_URL": f"file://{root / 'var' / 'blobs'}",
    }
    settings = settings_from_env(relative | env | {"EPROTOCOL_SECRET_KEY": "unused"})
    return Archive(dataclasses.replace(settings.archive, index_dir=None))


def local_root(config: ArchiveConfig) -> Path:
    """The blob directory of an archive on local storage."""
    assert isinstance(config.storage, LocalStorageConfig)
    return config.storage.root


def run_cli(
    *args: str, env: dict[str, str], cwd: Path | None = None, stdin: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the ``eprotocol`` command in a separate process, as an operator would.

    ``stdin`` is a file descriptor to read from (a terminal, say); none by default.
    Without ``cwd`` it runs in an empty directory of its own, so that what the command
    finds or leaves in ``./var`` (the defaults) is never the repository's.
    """
    with tempfile.TemporaryDirectory(prefix="eprotocol-cli-") as scratch:
        return subprocess.run(
            [sys.executable, "-m", "eprotocol.cli", *args],
            cwd=scratch if cwd is None else cwd,
            env=env,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bindir() -> Path:
    override = os.environ.get("EPROTOCOL_TEST_PG_BINDIR")
    if override:
        return Path(override)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found; run scripts/install-system-deps")
    return Path(candidates[-1]).parent


@dataclass
class PgServer:
    """A PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only."""

    base: Path
    port: int
    bindir: Path

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return self.url(name)

    def drop_database(self, name: str) -> None:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()

    def _as_owner(self) -> list[str]:
        # PostgreSQL refuses to run as root; run it as the postgres user then.
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @classmethod
    def start(cls) -> PgServer:
        base = Path(tempfile.mkdtemp(prefix="eprotocol-pg-"))
        server = cls(base=base, port=free_port(), bindir=_pg_bindir())
        if os.geteuid() == 0:
            shutil.chown(base, "postgres", "postgres")
        data = base / "data"
        subprocess.run(
            [
                *server._as_owner(),
                str(server.bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        server.resume()
        return server

    def resume(self) -> None:
        """Start (again) the server on its data directory and port."""
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            [
                *self._as_owner(),
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.base / "data"),
                "-l",
                str(self.base / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
        )

    def halt(self) -> None:
        """Stop the server at once (as a crash would), keeping its data for :meth:`resume`."""
        subprocess.run(
            [
                *self._as_owner(),
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.base / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            check=False,
            capture_output=True,
        )

    def stop(self) -> None:
        """Stop the server and remove its data."""
        self.halt()
        shutil.rmtree(self.base, ignore_errors=True)


S3_ACCESS_KEY = "eprotocol-test"
S3_SECRET_KEY = "eprotocol-test-secret"


@dataclass
class SeaweedServer:
    """A SeaweedFS master + volume + filer + S3 gateway on 127.0.0.1, data in a temp directory."""

    base: Path
    s3_port: int
    proc: subprocess.Popen[bytes] | None = None
    #: The ports of the running server: its unix sockets in /tmp are named after them.
    _ports: list[int] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.s3_port}"

    def storage_url(self, bucket: str) -> str:
        return f"s3://{S3_ACCESS_KEY}:{S3_SECRET_KEY}@{self.endpoint}/{bucket}?secure=false"

    def client(self) -> Minio:
        return Minio(self.endpoint, S3_ACCESS_KEY, S3_SECRET_KEY, secure=False)

    def make_bucket(self, name: str, *, object_lock: bool = False) -> str:
        self.client().make_bucket(name, object_lock=object_lock)
        return name

    @classmethod
    def start(cls) -> SeaweedServer:
        base = Path(tempfile.mkdtemp(prefix="eprotocol-weed-"))
        (base / "data").mkdir()
        (base / "logs").mkdir()
        identities = {
            "identities": [
                {
                    "name": "eprotocol",
                    "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        (base / "s3.json").write_text(json.dumps(identities))
        server = cls(base=base, s3_port=free_port())
        server.proc = server._spawn()
        return server

    def _spawn(self) -> subprocess.Popen[bytes]:
        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        ports = {name: free_port() for name in ("master", "volume", "filer")}
        grpc = {name: free_port() for name in ("master", "volume", "filer", "s3")}
        args = [
            weed,
            f"-logdir={self.base / 'logs'}",
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={self.base / 'data'}",
            "-master.volumeSizeLimitMB=32",
            "-volume.max=0",  # as many volumes as the disk allows: one collection per bucket
            f"-master.port={ports['master']}",
            f"-master.port.grpc={grpc['master']}",
            f"-volume.port={ports['volume']}",
            f"-volume.port.grpc={grpc['volume']}",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={grpc['filer']}",
            "-s3",
            f"-s3.port={self.s3_port}",
            f"-s3.port.grpc={grpc['s3']}",
            f"-s3.config={self.base / 's3.json'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]
        log = (self.base / "server.out").open("wb")
        self._ports = [self.s3_port, *ports.values(), *grpc.values()]
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.client().list_buckets()
                return proc
            except Exception:  # noqa: BLE001 - any failure means "not up yet"
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError(
                        "SeaweedFS did not start: " + (self.base / "server.out").read_text()[-2000:]
                    ) from None
                time.sleep(0.2)

    def kill(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL after a short grace period (it lingers)."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        # It makes a unix socket per port in /tmp (seaweedfs-s3-8333.sock...), whatever
        # TMPDIR says, and a killed server leaves them there.
        for port in self._ports:
            for left in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):  # noqa: S108 - where weed puts them
                if left.is_socket():
                    left.unlink(missing_ok=True)

    def restart(self) -> None:
        self.kill()
        self.proc = self._spawn()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.base, ignore_errors=True)


class MailSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.port = free_port()
        self._controller: Controller | None = None

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, _class=EmailMessage, policy=default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def start(self) -> MailSink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def init_archive(root: Path, env: dict[str, str], *init_args: str) -> None:
    """Run ``eprotocol init`` in ``root``, as the IT team would on a new machine."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "eprotocol.cli",
            "init",
            "--organisation",
            "Δήμος Χανίων",
            *init_args,
        ],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def clean_env(**variables: str) -> dict[str, str]:
    """The test process's environment without its ``EPROTOCOL_*``, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPROTOCOL_")}
    return env | variables


def place_signing_key(root: Path, *, valid_days: int) -> Path:
    """A development signing key valid for ``valid_days``, where ``init`` looks in ``root``.

    ``init`` keeps it instead of making one, and the server signs with it.
    """
    (root / "var").mkdir(exist_ok=True)
    (root / "var" / "signing-password").write_text("a-password\n")
    key = root / "var" / "signing.p12"
    key.unlink(missing_ok=True)
    create_development_identity(key, b"a-password", "Δήμος Χανίων", valid_days=valid_days)
    return key


def with_own_tmp(root: Path, env: dict[str, str]) -> dict[str, str]:
    """``env`` with a temporary directory under ``root``, for a process the test may kill.

    What a killed process leaves (a spooled upload, a file being extracted) then goes
    with the test's directory instead of piling up in the machine's ``/tmp``, as a
    deployment's ``PrivateTmp=yes`` (docs/deploy/) makes it go at a restart.
    """
    tmp = root / "tmp"
    tmp.mkdir(exist_ok=True)
    return env | {"TMPDIR": str(tmp)}


def launch_server(
    root: Path, env: dict[str, str], *, workers: int | None = 1, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``eprotocol serve`` on the archive of ``root`` and wait until it answers ``/health``.

    The server runs in a session of its own, so that :func:`kill_server` reaches
    every process it started; its log goes to ``root/server.log``, its temporary
    files to ``root/tmp``.
    """
    port = port or free_port()
    with (root / "server.log").open("a") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "eprotocol.cli",
                "serve",
                "--port",
                str(port),
                *(["--workers", str(workers)] if workers is not None else []),
            ],
            cwd=root,
            env=with_own_tmp(root, env),
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/health", timeout=5).close()  # noqa: S310
            return proc, base
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                kill_server(proc)
                raise RuntimeError("the server did not start") from None
            time.sleep(0.1)


def kill_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server and everything it started (a crash, or the end of a test)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def stop_server(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Stop the server as an operator would (SIGTERM), killing it if it does not stop in time."""
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)
    kill_server(proc)


def login(base: str, username: str, password: str) -> str:
    """A bearer token for ``username``."""
    answer = httpx.post(
        base + "/api/v1/auth/token", json={"username": username, "password": password}, timeout=30
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def start_server(
    tmp_path: Path, env: dict[str, str], *init_args: str, workers: int | None = 1
) -> tuple[subprocess.Popen[bytes], str]:
    """Initialise an archive in ``tmp_path`` and start ``eprotocol serve`` on it.

    Returns the process, once it answers ``/health``, and its URL; the server's
    log stays in ``tmp_path/server.log``, for reading when a test fails. Tests
    run one server process unless asked (``None``: the command's default).
    """
    init_archive(tmp_path, env, *init_args)
    return launch_server(tmp_path, env, workers=workers)


def serve(tmp_path: Path, env: dict[str, str], *init_args: str) -> Generator[str, None, None]:
    """Run ``eprotocol serve`` on a new archive in ``tmp_path`` (see :func:`start_server`)."""
    proc, base = start_server(tmp_path, env, *init_args)
    try:
        yield base
    finally:
        stop_server(proc)


#: Debian's Chromium, which the test command installs; Playwright never downloads one.
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium, without the background connections this closed network refuses."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()
