"""The backup and restore of docs/operations.md, done as written, on a server that is running."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx

from tests.pdfs import make_pdf
from tests.support import clean_env, run_cli, serve

PASSWORD = "backup-admin-password"


def _register(client: httpx.Client, subject: str, pages: int) -> str:
    metadata = json.dumps({"direction": "incoming", "subject": subject})
    answer = client.post(
        "/api/v1/registrations",
        files=[
            ("metadata", (None, metadata)),
            ("files", ("αίτηση.pdf", make_pdf(pages), "application/pdf")),  # distinct files
        ],
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["protocol_number"])


def test_a_backup_taken_while_the_server_runs_restores_elsewhere(tmp_path: Path) -> None:
    live, restored = tmp_path / "live", tmp_path / "restored"
    live.mkdir()
    env = clean_env()
    servers = serve(live, env, "--admin-password", PASSWORD)
    base = next(servers)
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            token = client.post(
                "/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
            ).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            kept = [_register(client, f"Αίτηση κλαδέματος {n}", n + 1) for n in range(2)]
            # The database first, with SQLite's online backup, as the server goes on...
            (live / "backup").mkdir()
            subprocess.run(
                ["sqlite3", "var/eprotocol.db", ".backup 'backup/eprotocol.db'"],
                cwd=live,
                check=True,
            )
            later = _register(client, "Αίτηση μετά το αντίγραφο της βάσης", 3)
            # ...then the files, and what else is to be kept safe.
            subprocess.run(["rsync", "-a", "var/blobs/", "backup/blobs/"], cwd=live, check=True)
            for name in ("signing.p12", "signing-password", "secret-key"):
                shutil.copy2(live / "var" / name, live / "backup" / name)
    finally:
        next(servers, None)

    # Restored on another machine: put back where the configuration points, then the steps.
    shutil.copytree(live / "backup", restored / "var")
    for step in (["init"], ["fsck"], ["reindex"]):
        done = run_cli(*step, env=env, cwd=restored)
        assert done.returncode == 0, (step, done.stderr)
        if step == ["fsck"]:
            assert "orphan" not in done.stdout  # newer than the database, but not a day old
    listed = run_cli("fsck", "--grace-hours", "0", env=env, cwd=restored)
    assert listed.returncode == 0, listed.stderr
    orphans = [line for line in listed.stdout.splitlines() if line.startswith("orphan")]
    assert len(orphans) == 1  # the file of the registration made in between
    for number in kept:
        shown = run_cli("show", number, env=env, cwd=restored)
        assert shown.returncode == 0 and "Αίτηση κλαδέματος" in shown.stdout, shown.stderr
    assert "there is no registration" in run_cli("show", later, env=env, cwd=restored).stderr
    found = run_cli("search", "κλαδέματος", env=env, cwd=restored)
    assert found.stdout.strip().endswith("2 found"), found.stdout
    assert "intact" in run_cli("fsck", env=env, cwd=restored).stdout
