"""The ``eprotocol`` command as an operator uses it, in a fresh directory."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from eprotocol import Archive, ArchiveConfig, storage_config_from_url
from tests.pdfs import make_pdf
from tests.support import free_port, place_signing_key, run_cli

Run = Callable[..., subprocess.CompletedProcess[str]]
CANCEL_REASONS = ("--reason", "Λάθος", "--authorisation", "Απόφαση 1")
PDF = make_pdf(1)


@pytest.fixture
def run(database_url: str, tmp_path: Path) -> Run:
    env = {
        **os.environ,
        "EPROTOCOL_DATABASE_URL": database_url,
        "EPROTOCOL_PUBLIC_URL": "https://protocol.chania.example",
    }
    env.pop("EPROTOCOL_STORAGE_URL", None)  # the default, file://var/blobs, under the cwd

    def run(*args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
        """``eprotocol ARGS`` in the test's directory; ``overrides`` are environment variables."""
        return run_cli(*args, env={**env, **overrides}, cwd=tmp_path)

    return run


def commands_archive(tmp_path: Path, database_url: str) -> Archive:
    """The archive the commands made in ``tmp_path``, opened through the library."""
    return Archive(
        ArchiveConfig(
            database_url=database_url,
            storage=storage_config_from_url(f"file://{tmp_path / 'var' / 'blobs'}"),
        )
    )


def test_operator_session(run: Run, tmp_path: Path, database_url: str) -> None:
    year = datetime.now(ZoneInfo("Europe/Athens")).year
    (tmp_path / "αίτηση.pdf").write_bytes(PDF)
    (tmp_path / "συνημμένο.txt").write_text("Βεβαίωση", encoding="utf-8")

    assert run("init", "--organisation", "Δήμος Χανίων").returncode == 0
    first = run(
        "register",
        "αίτηση.pdf",
        "συνημμένο.txt",
        "--direction",
        "incoming",
        "--subject",
        "Αίτηση βεβαίωσης",
        "--sender",
        "Μαρία Παπαδάκη",
        "--by",
        "clerk",
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"1/{year}"
    second = run(
        "register",
        "αίτηση.pdf",
        "--direction",
        "outgoing",
        "--subject",
        "Απάντηση",
        "--recipient",
        "Μαρία Παπαδάκη",
        "--related",
        f"1/{year}",
        "--json",
    )
    assert json.loads(second.stdout)["number"] == 2
    note = ("--direction", "internal", "--subject", "Σημείωμα", "--confidential")
    assert run("register", *note, "--related", f"1/{year}").returncode == 0
    # The command line has no corrections; the library does.
    with commands_archive(tmp_path, database_url) as archive:
        archive.correct(
            "general", year, 2, {"recipients": ["Μαρία Παπαδάκη", "Γιώργος Σηφάκης"],
            "sender_date": "2026-02-27"}, reason="Ελλιπές", by="clerk",
        )  # fmt: skip
    corrected = run("show", f"{year}/2").stdout
    assert "Παραλήπτες: «Μαρία Παπαδάκη» → «Μαρία Παπαδάκη, Γιώργος Σηφάκης» (Ελλιπές; clerk, " in (
        corrected
    )
    assert "Ημερομηνία εγγράφου αποστολέα: «—» → «27/02/2026» (Ελλιπές; clerk, " in corrected

    shown = run("show", f"{year}/1", "--json")
    entry = json.loads(shown.stdout)
    assert entry["subject"] == "Αίτηση βεβαίωσης"
    assert [f["filename"] for f in entry["files"]] == ["αίτηση.pdf", "συνημμένο.txt"]
    assert entry["files"][0]["role"] == "main"
    assert (tmp_path / "var" / "blobs" / entry["files"][0]["storage_key"]).read_bytes() == PDF

    cancelled = run(
        "cancel",
        f"{year}/1",
        "--reason",
        "Διπλή καταχώριση",
        "--authorisation",
        "Απόφαση 3/2026",
        "--by",
        "head",
    )
    assert cancelled.returncode == 0
    printed = run("show", f"{year}/1").stdout
    assert "Ακύρωση:         Διπλή καταχώριση" in printed
    # Its reply, and a confidential note: the command line shows confidential entries whole.
    assert f"Αναφέρεται από:  2/{year}, 3/{year}\n" in printed
    assert f"Σχετικά:         1/{year}\n" in run("show", f"{year}/2").stdout
    assert run("fsck").returncode == 0


def test_a_reference_is_read_as_printed_when_it_cannot_be_a_year(run: Run) -> None:
    year = datetime.now(ZoneInfo("Europe/Athens")).year
    assert run("init", "--organisation", "Δήμος Χανίων").returncode == 0
    assert run("register", "--direction", "incoming", "--subject", "Α").stdout.strip() == (
        f"1/{year}"
    )
    printed = run("show", f"1/{year}")
    assert printed.returncode == 0 and printed.stdout == run("show", f"{year}/1").stdout
    # Both parts could be years: YEAR/NUMBER, as DESIGN.md has it.
    either = run("show", f"{year - 1}/{year}")
    assert f"there is no registration general:{year}/{year - 1}" in either.stderr


def test_cancelling_at_a_terminal_shows_the_entry_and_asks_first(
    database_url: str, tmp_path: Path
) -> None:
    year = datetime.now(ZoneInfo("Europe/Athens")).year
    env = {**os.environ, "EPROTOCOL_DATABASE_URL": database_url}
    env.pop("EPROTOCOL_STORAGE_URL", None)
    assert run_cli("init", "--organisation", "Δήμος Χανίων", env=env, cwd=tmp_path).returncode == 0
    run_cli("department", "add", "KEP", "Τμήμα ΚΕΠ", env=env, cwd=tmp_path)
    run_cli(
        "register",
        *("--direction", "incoming", "--subject", "Αίτηση", "--assign", "KEP"),
        env=env,
        cwd=tmp_path,
    )

    def cancel_answering(answer: bytes) -> subprocess.CompletedProcess[str]:
        terminal, keyboard = pty.openpty()  # stdin is a terminal, as for a person
        try:
            os.write(terminal, answer)
            return run_cli(
                "cancel", f"1/{year}", *CANCEL_REASONS, env=env, cwd=tmp_path, stdin=keyboard
            )
        finally:
            os.close(terminal)
            os.close(keyboard)

    declined = cancel_answering(b"n\n")
    assert f"Cancel 1/{year} (" in declined.stdout and "«Αίτηση»?" in declined.stdout
    assert "Its open assignments end with it: KEP." in declined.stdout
    assert declined.returncode == 1
    assert "Ακύρωση" not in run_cli("show", f"{year}/1", env=env, cwd=tmp_path).stdout
    accepted = cancel_answering(b"y\n")
    assert accepted.returncode == 0
    assert f"1/{year} cancelled; open assignments ended: KEP" in accepted.stdout
    assert "Ακύρωση:" in run_cli("show", f"{year}/1", env=env, cwd=tmp_path).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "2026/77"], "there is no registration general:77/2026"),
        (["show", "77/2026x"], "is not YEAR/NUMBER"),
        (["cancel", "2026/77", "--reason", "x", "--authorisation", "y"], "no registration"),
        (
            ["register", "a.pdf", "--direction", "incoming", "--subject", " "],
            "subject must not be empty",
        ),
        (
            ["register", "a.pdf", "--direction", "incoming", "--subject", "x", "--book", "nope"],
            "no protocol book 'nope'",
        ),
        (["import", "."], "is not an export: it has no bagit.txt"),
        (["verify", "βεβαίωση.pdf"], "there is no file βεβαίωση.pdf"),
        (["verify", "scans/7KQ3-M9XD"], "there is no file scans/7KQ3-M9XD"),
        (["verify", "7KQ3-M9XD"], "a verification code has 16 letters and digits"),
        (["export", "out"], "there are no registrations to export"),
    ],
)
def test_errors_are_one_line_and_non_zero(
    run: Run, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "a.pdf").write_bytes(PDF)
    assert run("init", "--organisation", "Δήμος Χανίων").returncode == 0
    result = run(*args)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            {"EPROTOCOL_DATABASE_URL": "mysql://clerk:s3cret-pw@db.local/protocol"},
            "eprotocol runs on SQLite or PostgreSQL, not 'mysql'",
        ),
        ({"EPROTOCOL_DATABASE_URL": "var/eprotocol.db"}, "the database URL is not a URL like"),
        (
            {"EPROTOCOL_DATABASE_ULR": "postgresql+psycopg://clerk:s3cret-pw@db.local/protocol"},
            "EPROTOCOL_DATABASE_ULR is not a setting of eprotocol: did you mean "
            "EPROTOCOL_DATABASE_URL?",
        ),
        ({"EPROTOCOL_STORE": "file:///srv/eprotocol"}, "EPROTOCOL_STORE is not a setting"),
        ({"EPROTOCOL_DATABASE_URL": "sqlite://"}, "an SQLite database must be a file"),
        (
            {"EPROTOCOL_DATABASE_URL": "postgresql+psycopg://clerk:s3cret-pw@127.0.0.1:1/protocol"},
            'database error: connection failed: connection to server at "127.0.0.1", port 1 '
            "failed: Connection refused Is the server running",
        ),
        (
            {"EPROTOCOL_DATABASE_URL": "postgresql+pg8000://clerk:s3cret-pw@db.local/protocol"},
            "the database driver 'pg8000' is not installed",
        ),
        (
            {"EPROTOCOL_STORAGE_URL": "s3://key:s3cret-pw@s3.local:9ooo/eprotocol"},
            "the port of the storage URL must be a number",
        ),
        ({"EPROTOCOL_SMTP_URL": "smtp://mail.local:2s"}, "the port of the SMTP URL must be"),
        (
            {"EPROTOCOL_INDEX_DIR": "/proc/eprotocol-index"},
            "the search index directory /proc/eprotocol-index cannot be made",
        ),
        (
            {"EPROTOCOL_PUBLIC_URL": "protocol.chania.gr"},
            "the public URL must be an http:// or https:// address",
        ),
        (
            {"EPROTOCOL_SIGNING_P12": "/etc/passwd"},
            "the signing key /etc/passwd cannot be opened: not a PKCS#12 file",
        ),
    ],
)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # refused before any query
def test_a_bad_setting_stops_every_command_in_one_line(
    run: Run, setting: dict[str, str], message: str
) -> None:
    """The server too: it does not start, rather than fail on every request."""
    for args in (["show", "2026/1"], ["serve", "--port", str(free_port())]):
        result = run(*args, **setting)
        assert (result.returncode, result.stdout) == (1, ""), args
        assert result.stderr.startswith(f"eprotocol: {message}"), args
        assert len(result.stderr.strip().splitlines()) == 1
        assert "s3cret-pw" not in result.stderr


def test_a_database_init_has_not_prepared_is_named_before_any_work(
    run: Run, database_url: str, tmp_path: Path
) -> None:
    """A server started on it would report ready and fail on every request (and its jobs loop)."""
    sqlite = database_url.startswith("sqlite")
    expected = (
        f"there is no database at {tmp_path / 'eprotocol.db'} yet"
        if sqlite
        else "the database has no eprotocol schema yet"
    )
    for args in (["show", "2026/1"], ["search", "Χανιά"], ["serve", "--port", str(free_port())]):
        result = run(*args)
        assert (result.returncode, result.stdout) == (1, ""), args
        assert result.stderr == f"eprotocol: {expected}: run `eprotocol init`\n", args
    assert not (tmp_path / "eprotocol.db").exists()  # a mistyped path leaves no empty database
    elsewhere = {"EPROTOCOL_DATABASE_URL": "sqlite:////proc/eprotocol/e.db"}
    assert "database directory /proc/eprotocol cannot be made" in run("init", **elsewhere).stderr
    assert run("init", "--organisation", "Δήμος Χανίων").returncode == 0
    assert "there is no registration" in run("show", "2026/1").stderr


def test_a_script_run_again_registers_each_keyed_document_once(run: Run, tmp_path: Path) -> None:
    """A scanning job that stopped half-way is simply run again."""
    (tmp_path / "scan-0001.pdf").write_bytes(PDF)
    assert run("init", "--organisation", "Δήμος Χανίων").returncode == 0
    scanned = ("scan-0001.pdf", "--direction", "incoming", "--subject", "Σαρωμένη αίτηση")
    first = run("register", *scanned, "--key", "scan-0001")
    again = run("register", *scanned, "--key", "scan-0001")
    assert first.returncode == again.returncode == 0, again.stderr
    assert again.stdout == first.stdout != ""
    other = run("register", "scan-0001.pdf", "--direction", "incoming", "--subject", "Άλλο",
                "--key", "scan-0001")  # fmt: skip
    assert other.returncode == 1 and "already registered" in other.stderr
    year = first.stdout.strip().split("/")[1]
    assert "there is no registration" in run("show", f"{year}/2").stderr


def test_init_as_design_md_gives_it_and_a_name_given_later(run: Run, tmp_path: Path) -> None:
    """`eprotocol init --admin-password P`: the archive is made, and told it has no name yet.

    Its development signing key waits for the name, which its certificate carries.
    """
    init = run("init", "--admin-password", "ένας καλός κωδικός")
    assert init.returncode == 0, init.stderr
    assert "the organisation has no name yet" in init.stderr
    assert "(χωρίς όνομα φορέα)" in init.stderr and "organisation rename" in init.stderr
    key = tmp_path / "var" / "signing.p12"
    assert "DEVELOPMENT" not in init.stderr and not key.exists()
    renamed = run("organisation", "rename", "Δήμος Χανίων")
    assert renamed.stdout.strip() == "'(χωρίς όνομα φορέα)' is now 'Δήμος Χανίων'"
    again = run("init")  # an upgrade needs no name: the archive keeps its own
    assert again.returncode == 0 and "no name yet" not in again.stderr
    assert "DEVELOPMENT signing key" in again.stderr
    password = (tmp_path / "var" / "signing-password").read_bytes().strip()
    _, certificate, _ = pkcs12.load_key_and_certificates(key.read_bytes(), password)
    assert certificate is not None
    subject = certificate.subject.rfc4514_string()
    assert subject == "C=GR,O=Δήμος Χανίων,CN=Δήμος Χανίων (ΔΟΚΙΜΑΣΤΙΚΟ)"
    assert "WARNING" not in run("init").stderr


def test_init_warns_of_a_signing_certificate_that_expires_within_a_month(
    run: Run, tmp_path: Path
) -> None:
    place_signing_key(tmp_path, valid_days=45)
    init = run("init", "--organisation", "Δήμος Χανίων")
    assert init.returncode == 0 and "WARNING" not in init.stderr
    place_signing_key(tmp_path, valid_days=20)
    again = run("init")
    assert again.returncode == 0
    assert "WARNING: the signing certificate of 'Δήμος Χανίων (ΔΟΚΙΜΑΣΤΙΚΟ)' expires on " in (
        again.stderr
    )
    assert "in 19 days: install the renewed one (EPROTOCOL_SIGNING_P12)" in again.stderr


def test_init_takes_its_name_and_password_from_the_environment(
    run: Run, tmp_path: Path, database_url: str
) -> None:
    """EPROTOCOL_ORGANISATION and EPROTOCOL_ADMIN_PASSWORD, as README's settings table says."""
    init = run(
        "init",
        EPROTOCOL_ORGANISATION="Δήμος Χανίων",
        EPROTOCOL_ADMIN_PASSWORD="ένας καλός κωδικός",
    )
    assert init.returncode == 0, init.stderr
    assert "no name yet" not in init.stderr
    with commands_archive(tmp_path, database_url) as archive:
        assert archive.organisation_name() == "Δήμος Χανίων"
        assert archive.authenticate("admin", "ένας καλός κωδικός").username == "admin"


def test_certificates_verification_and_daily_register_from_the_command_line(
    run: Run, tmp_path: Path
) -> None:
    init = run("init", "--organisation", "Δήμος Χανίων")
    assert init.returncode == 0
    assert "DEVELOPMENT signing key" in init.stderr
    key = tmp_path / "var" / "signing.p12"
    assert key.stat().st_mode & 0o077 == 0
    assert (tmp_path / "var" / "signing-password").stat().st_mode & 0o077 == 0
    again = run("init", "--organisation", "Δήμος Χανίων")
    assert again.returncode == 0 and "DEVELOPMENT" not in again.stderr  # the key is kept
    assert "WARNING" not in again.stderr
    other = run("init", "--organisation", "Δήμος Ηρακλείου")  # a typo cannot silently stay
    assert other.returncode == 0
    assert "organisation is 'Δήμος Χανίων'" in other.stderr and "was not applied" in other.stderr
    renamed = run("organisation", "rename", "Δήμος Ηρακλείου")
    assert renamed.stdout.strip() == "'Δήμος Χανίων' is now 'Δήμος Ηρακλείου'"
    assert "WARNING" not in run("init", "--organisation", "Δήμος Ηρακλείου").stderr

    templates = run("certificate", "templates")
    assert "permanent-residence: Βεβαίωση μόνιμης κατοικίας" in templates.stdout
    issued = run(
        "certificate",
        "issue",
        "--template",
        "generic",
        "--field",
        "full_name=Νίκος Βλαχάκης",
        "--field",
        "statement=είναι εγγεγραμμένος στα μητρώα του Δήμου.",
    )
    assert issued.returncode == 0, issued.stderr
    number, code, output = issued.stdout.split("\n")[:3]
    year = datetime.now(ZoneInfo("Europe/Athens")).year
    assert number == f"1/{year}"
    assert (tmp_path / output).read_bytes().startswith(b"%PDF-")

    by_code = run("verify", code)
    assert by_code.returncode == 0 and by_code.stdout.strip().endswith("VALID")
    by_file = run("verify", output, "--json")
    assert by_file.returncode == 0 and json.loads(by_file.stdout)["authentic"] is True
    forged = bytearray((tmp_path / output).read_bytes())
    forged[-10] ^= 1
    (tmp_path / "forged.pdf").write_bytes(bytes(forged))
    refused = run("verify", "forged.pdf")
    assert refused.returncode == 1 and "NOT VALID" in refused.stderr
    assert run("verify", "2222-3333-4444-5555").returncode == 1
    bad_field = run("certificate", "issue", "--template", "generic", "--field", "nonsense")
    assert bad_field.returncode == 1 and "is not name=value" in bad_field.stderr

    yesterday = (datetime.now(ZoneInfo("Europe/Athens")) - timedelta(days=1)).date()
    made = run("daily-register", "--output", "registers", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["day"] == yesterday.isoformat()
    stored = tmp_path / "registers" / f"daily-register-{yesterday.isoformat()}.json"
    assert json.loads(stored.read_text(encoding="utf-8"))["day"] == yesterday.isoformat()
    today = run(
        "daily-register", "--date", datetime.now(ZoneInfo("Europe/Athens")).date().isoformat()
    )
    assert today.returncode == 1 and "once the day is over" in today.stderr


def test_every_command_that_reports_something_speaks_json(run: Run, tmp_path: Path) -> None:
    assert run("init", "--organisation", "Δήμος Χανίων").returncode == 0
    department = run("department", "add", "KEP", "Τμήμα ΚΕΠ", "--json")
    assert json.loads(department.stdout)["code"] == "KEP"
    user = run("user", "add", "kiosk", "Περίπτερο", "--department", "KEP", "--json")
    assert json.loads(user.stdout)["username"] == "kiosk"
    token = json.loads(run("token", "create", "--user", "kiosk", "--name", "ΚΕΠ", "--json").stdout)
    assert token["token"].startswith("ept_") and token["user"] == "kiosk"
    (tmp_path / "a.pdf").write_bytes(PDF)
    year = json.loads(
        run("register", "a.pdf", "--direction", "incoming", "--subject", "Αίτηση", "--json").stdout
    )["year"]
    cancelled = run(
        "cancel", f"{year}/1", "--reason", "Λάθος", "--authorisation", "Πράξη 1", "--json"
    )
    assert json.loads(cancelled.stdout)["status"] == "cancelled"
    assert json.loads(run("reindex", "--json").stdout) == {"indexed": 1}


def test_staff_who_move_or_leave_and_their_tokens(
    run: Run, tmp_path: Path, database_url: str
) -> None:
    assert run("init", "--organisation", "Δήμος Χανίων").returncode == 0
    assert run("department", "add", "KEP", "Τμήμα ΚΕΠ").returncode == 0
    assert run("department", "add", "TECH", "Τεχνικές Υπηρεσίες").returncode == 0
    added = run("user", "add", "maria", "Μαρία Κ.", "--department", "KEP")
    assert added.stdout == (
        "user maria added (staff); they can log in once given a password: "
        "eprotocol user password maria\n"
    )
    unasked = run("user", "password", "maria")  # no terminal to ask at
    assert (unasked.returncode, unasked.stdout) == (1, "")
    assert unasked.stderr == (
        "eprotocol: give the password with --password, or run this at a terminal to be asked\n"
    )
    (token,) = [run("token", "create", "--user", "maria", "--name", "Σαρωτής").stdout.strip()]
    assert run("register", "--direction", "incoming", "--subject", "Αίτηση").returncode == 0
    year = datetime.now(ZoneInfo("Europe/Athens")).year
    assigned = run("assign", f"{year}/1", "--department", "KEP", "--assignee", "maria")
    assert assigned.returncode == 0, assigned.stderr

    moved = run("user", "change", "maria", "--department", "TECH", "--role", "head")
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.splitlines() == [
        "user maria changed",
        "1 open assignment(s) are still addressed to maria; "
        "the head of their department can forward them",
    ]
    left = run("user", "deactivate", "maria")
    assert left.stdout.splitlines()[0] == "user maria deactivated"
    listed = run("user", "list").stdout.splitlines()
    assert "maria\tΜαρία Κ.\tTECH\thead\t(απενεργοποιημένος)" in listed
    assert json.loads(run("user", "list", "--json").stdout)[1]["active"] is False

    (listed_token,) = json.loads(run("token", "list", "--json").stdout)
    assert listed_token["name"] == "Σαρωτής" and token not in json.dumps(listed_token)
    revoked = run("token", "revoke", str(listed_token["id"]))
    assert revoked.stdout.strip() == f"token {listed_token['id']} (maria, 'Σαρωτής') revoked"
    assert "\trevoked " in run("token", "list", "--user", "maria").stdout

    changed = run("department", "change", "KEP", "--digest-email", "kep@chania.gr", "--json")
    assert json.loads(changed.stdout)["digest_email"] == "kep@chania.gr"
    assert "KEP\tΤμήμα ΚΕΠ\t—\tkep@chania.gr" in run("department", "list").stdout

    nothing = run("user", "change", "maria")
    assert (nothing.returncode, nothing.stderr.count("\n")) == (1, 1)
    assert "nothing to change" in nothing.stderr
    myself = run("user", "deactivate", "admin")
    assert myself.returncode == 1 and "cannot deactivate themselves" in myself.stderr
    assert run("user", "activate", "maria").stdout.strip() == "user maria activated"

    # A reorganisation: KEP still has maria's work; once forwarded, it closes.
    refused = run("department", "close", "KEP")
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        "eprotocol: department KEP still has 1 open assignment(s): forward them first\n"
    )
    with commands_archive(tmp_path, database_url) as archive:
        archive.forward(
            archive.get("general", year, 1).assignments[0].id, department="TECH", by="admin"
        )
    assert run("department", "close", "KEP").stdout == "department KEP closed\n"
    today = datetime.now(ZoneInfo("Europe/Athens"))
    assert f"KEP\tΤμήμα ΚΕΠ\t—\tkep@chania.gr\t(καταργήθηκε {today:%d/%m/%Y})" in (
        run("department", "list").stdout
    )
    assert run("department", "reopen", "KEP").stdout == "department KEP reopened\n"


def test_documents_citizens_cannot_verify_are_warned_about(run: Run) -> None:
    """Left at its default, the verification address on every QR code is this machine."""
    unset = run(
        "init", "--organisation", "Δήμος Χανίων", EPROTOCOL_PUBLIC_URL="http://127.0.0.1:8000"
    )
    assert "EPROTOCOL_PUBLIC_URL is http://127.0.0.1:8000" in unset.stderr
    assert "citizens cannot reach" in unset.stderr
    local = run("init", "--organisation", "Δήμος Χανίων", EPROTOCOL_PUBLIC_URL="http://localhost")
    assert "citizens cannot reach" in local.stderr
    office = run("init", "--organisation", "Δήμος Χανίων", EPROTOCOL_PUBLIC_URL="http://10.1.2.3")
    assert "WARNING" not in office.stderr  # the town hall's network: somebody chose it


def test_register_routes_and_cancel_as_design_md_gives_them(run: Run) -> None:
    """`register --assign DEPT` and `cancel YEAR/NUMBER --reason R` as other software runs them."""
    assert run("init", "--organisation", "Δήμος Χανίων").returncode == 0
    assert run("department", "add", "KEP", "Τμήμα ΚΕΠ").returncode == 0
    assert run("department", "add", "TECH", "Τεχνικές Υπηρεσίες").returncode == 0
    unknown = run("register", "--direction", "incoming", "--subject", "Αίτηση", "--assign", "NOPE")
    assert unknown.returncode == 1 and "there is no department 'NOPE'" in unknown.stderr
    routed = run(
        "register",
        "--direction",
        "incoming",
        "--subject",
        "Αίτηση",
        "--assign",
        "KEP",
        "--assign",
        "TECH",
        "--inform",
        "KEP",  # for action already: it stays so
        "--json",
    )
    assert routed.returncode == 0, routed.stderr
    entry = json.loads(routed.stdout)
    assert entry["number"] == 1  # the refused one used no number
    assert [a["department"] for a in entry["assignments"]] == ["KEP", "TECH"]
    assert {a["purpose"] for a in entry["assignments"]} == {"action"}
    informed = run(
        "register", "--direction", "incoming", "--subject", "Εγκύκλιος", "--inform", "TECH",
        "--json",
    )  # fmt: skip
    routed_for = [
        (a["department"], a["purpose"]) for a in json.loads(informed.stdout)["assignments"]
    ]
    assert routed_for == [("TECH", "information")]
    printed = run("show", f"{entry['year']}/1").stdout
    assert "Χρέωση 1:        KEP · προς ενέργεια · εκκρεμεί\n" in printed
    cancelled = run("cancel", f"{entry['year']}/1", "--reason", "Διπλή καταχώριση", "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["cancellation"]["authorisation"] == "(δεν δηλώθηκε)"


def test_the_filing_plan_is_loaded_from_a_spreadsheet(run: Run, tmp_path: Path) -> None:
    """`classification import` takes a plan as a Greek spreadsheet saves it, whole or not at all."""
    assert run("init", "--organisation", "Δήμος Χανίων").returncode == 0
    plan = tmp_path / "σχέδιο.csv"
    lines = [
        "code;title;retention_years;disposal",
        "Φ.600;Οδοποιία;10;transfer",
        "Φ.12;Βεβαιώσεις;5;",
    ]
    plan.write_bytes("\r\n".join(["\ufeff" + lines[0], *lines[1:]]).encode())

    loaded = run("classification", "import", str(plan))
    assert (loaded.returncode, loaded.stdout) == (0, "2 heading(s) added, 0 already in the plan\n")

    plan.write_bytes("\n".join([*lines, "Φ.20;Προσλήψεις;50;review", "Φ.21;Άδειες;δέκα;"]).encode())
    refused = run("classification", "import", str(plan))
    assert (refused.returncode, refused.stderr) == (
        1,
        "eprotocol: line 5: retention_years must be a whole number from 1 to 200 (got 'δέκα')\n",
    )
    # A line copied twice in the file is one heading, not one "already in the plan".
    plan.write_bytes("\n".join([*lines, *["Φ.20;Προσλήψεις;50;review"] * 2]).encode())
    again = run("classification", "import", str(plan))
    assert again.stdout == "1 heading(s) added, 2 already in the plan\n"

    one = run("classification", "add", "Φ.30", "Συμβάσεις", "--retention-years", "20")
    assert one.stdout == "heading Φ.30 added\n"
    same = run("classification", "add", "Φ.30", "Συμβάσεις", "--retention-years", "20")
    assert same.stdout == "heading Φ.30 is already in the plan as given\n"
    taken = run("classification", "add", "Φ.30", "Άλλο", "--retention-years", "20")
    assert taken.returncode == 1 and "already has a heading 'Φ.30'" in taken.stderr
    fixed = run("classification", "retitle", "Φ.12", "Βεβαιώσεις μόνιμης κατοικίας")
    assert fixed.stdout == "heading Φ.12 is now titled «Βεβαιώσεις μόνιμης κατοικίας»\n"
    unknown = run("classification", "retitle", "Φ.13", "Άλλο")
    assert (unknown.returncode, unknown.stderr) == (
        1,
        "eprotocol: 'Φ.13' is not a heading of the filing plan\n",
    )
    assert run("classification", "list").stdout.splitlines() == [
        "Φ.12\tΒεβαιώσεις μόνιμης κατοικίας\t5\treview",
        "Φ.20\tΠροσλήψεις\t50\treview",
        "Φ.30\tΣυμβάσεις\t20\treview",
        "Φ.600\tΟδοποιία\t10\ttransfer",
    ]
    assert json.loads(run("classification", "list", "--json").stdout)[3] == {
        "code": "Φ.600",
        "title": "Οδοποιία",
        "retention_years": 10,
        "disposal": "transfer",
    }


def test_the_registrations_whose_retention_ended_are_listed(run: Run) -> None:
    """`disposal --on` sums them up for the archive committee, `--csv` lists them; none deleted."""
    assert run("init", "--organisation", "Δήμος Χανίων").returncode == 0
    assert (
        run("classification", "add", "Φ.12", "Βεβαιώσεις", "--retention-years", "5").returncode == 0
    )
    number = run("register", "--direction", "incoming", "--subject", "Αίτηση").stdout.strip()
    run("register", "--direction", "incoming", "--subject", "Βεβαίωση", "--classification", "Φ.12")
    year = number.split("/")[1]

    assert run("disposal").stdout == "no registration's retention has ended\n"
    in_eleven_years = (datetime.now(UTC) + timedelta(days=11 * 366)).date().isoformat()
    summary = run("disposal", "--on", in_eleven_years).stdout.splitlines()
    assert [line.split("\t")[:4] for line in summary] == [
        [year, "-", "review", "1 registration(s)"],
        [year, "Φ.12 Βεβαιώσεις", "review", "1 registration(s)"],
    ]
    as_json = json.loads(run("disposal", "--on", in_eleven_years, "--json").stdout)
    assert [g["heading"] and g["heading"]["code"] for g in as_json] == [None, "Φ.12"]
    # The committee dealt with what ended in the first seven years: the ten-year one is left.
    in_seven_years = (datetime.now(UTC) + timedelta(days=7 * 366)).date().isoformat()
    since = run("disposal", "--on", in_eleven_years, "--since", in_seven_years, "--json")
    assert [g["heading"] for g in json.loads(since.stdout)] == [None]
    backwards = run("disposal", "--since", in_eleven_years)
    assert (backwards.returncode, backwards.stdout) == (1, "")
    assert backwards.stderr == "eprotocol: the first day comes after the last\n"

    listed = run("disposal", "--on", in_eleven_years, "--csv").stdout
    rows = list(csv.reader(io.StringIO(listed.removeprefix("\ufeff"))))
    assert rows[0][:5] == ["protocol_number", "registered", "heading", "heading_title", "disposal"]
    assert [(r[0], r[2], r[-1]) for r in rows[1:]] == [
        (number, "", "Αίτηση"),
        (f"{int(number.split('/')[0]) + 1}/{year}", "Φ.12", "Βεβαίωση"),
    ]
    refused = run("disposal", "--csv", "--by", "nobody")
    assert (refused.returncode, refused.stdout) == (1, "")  # not even the header
    assert "nobody" in refused.stderr

    # The committee decides on the first seven years' list: recorded, and not decided again.
    seven = date.fromisoformat(in_seven_years)
    decided = run("disposal", "--on", in_seven_years, "--decide", "Πρακτικό 1/2033")
    assert decided.returncode == 0, decided.stderr
    assert decided.stdout == (
        "decision «Πρακτικό 1/2033» recorded: 1 registration(s) in 1 group(s) up to "
        f"{seven:%d/%m/%Y}; the next list starts on {seven + timedelta(days=1):%d/%m/%Y}\n"
    )
    again = run("disposal", "--on", in_eleven_years, "--decide", "Πρακτικό 1/2037")
    assert (again.returncode, again.stdout) == (1, "")
    assert f"a new list starts on {seven + timedelta(days=1)}" in again.stderr
    after = (seven + timedelta(days=1)).isoformat()
    decided = run(
        "disposal",
        "--on",
        in_eleven_years,
        "--since",
        after,
        "--decide",
        "Πρακτικό 1/2037",
        "--json",
    )
    assert decided.returncode == 0, decided.stderr
    recorded = json.loads(decided.stdout)
    today = datetime.now(ZoneInfo("Europe/Athens")).date()
    assert (recorded["reference"], recorded["decided_on"], recorded["since"]) == (
        "Πρακτικό 1/2037",
        today.isoformat(),
        after,
    )
    assert [(g["heading_code"], g["disposal"]) for g in recorded["groups"]] == [(None, "review")]


def test_a_protocol_book_of_its_own_is_added_and_registered_in(run: Run) -> None:
    assert run("init", "--organisation", "Δήμος Χανίων").returncode == 0
    added = run("book", "add", "confidential", "Εμπιστευτικό πρωτόκολλο")
    assert (
        added.stdout
        == "protocol book confidential added: register in it with --book confidential\n"
    )
    refused = run("book", "add", "Conf", "Εμπιστευτικό")
    assert (refused.returncode, refused.stderr) == (
        1,
        "eprotocol: 'Conf': a book code uses only lower-case a-z, 0-9, - and _ (at most 32)\n",
    )
    assert run("book", "list").stdout.splitlines() == [
        "confidential\tΕμπιστευτικό πρωτόκολλο",
        "general\tΓενικό πρωτόκολλο",
    ]
    year = datetime.now(ZoneInfo("Europe/Athens")).year
    secret = run(
        "register", "--direction", "incoming", "--subject", "Αναφορά", "--book", "confidential"
    )
    assert secret.stdout == f"1/{year}\n"


def test_a_document_registered_twice_is_warned_about(run: Run, tmp_path: Path) -> None:
    assert run("init", "--organisation", "Δήμος Χανίων").returncode == 0
    scan = tmp_path / "σάρωση.pdf"
    scan.write_bytes(make_pdf(1, text="Scan 0042"))
    args = ("register", str(scan), "--direction", "incoming", "--subject", "Αίτηση")
    year = datetime.now(ZoneInfo("Europe/Athens")).year
    first = run(*args)
    assert (first.stdout, first.stderr) == (f"1/{year}\n", "")
    again = run(*args)
    assert (again.returncode, again.stdout) == (0, f"2/{year}\n")
    assert again.stderr == (
        f"warning: the same main document is registered as 1/{year} too; "
        "if twice by mistake, cancel the later one\n"
    )
