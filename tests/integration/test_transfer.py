"""`eprotocol export` and `eprotocol import DIR`: whole protocol years moved between archives."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import bagit
import pytest
from minio.commonconfig import ENABLED
from minio.versioningconfig import VersioningConfig

from eprotocol import (
    Archive,
    ArchiveConfig,
    Conflict,
    FileInput,
    FileRole,
    Forbidden,
    InvalidTransfer,
    LocalStorageConfig,
    NewRegistration,
    ProtocolRef,
    Purpose,
    Registration,
    Role,
    StorageUnavailable,
    VerificationStatus,
    storage_config_from_url,
)
from eprotocol.bags import BagReader, BagWriter
from eprotocol.config import SigningConfig
from eprotocol.core import transfer
from tests import pdfs
from tests.integration.test_certificates import CITIZEN
from tests.integration.test_registry import table_counts
from tests.support import FixedClock, SeaweedServer, all_registrations, run_cli

ORGANISATION = "Δήμος Χανίων"


def _env(config: ArchiveConfig, url: str) -> dict[str, str]:
    return {
        **os.environ,
        "EPROTOCOL_DATABASE_URL": config.database_url,
        "EPROTOCOL_STORAGE_URL": url,
    }


@pytest.fixture
def source(tmp_path: Path, signing: SigningConfig) -> Iterator[tuple[Archive, dict[str, str]]]:
    """A SQLite archive with two protocol years of varied history, and its CLI environment."""
    url = f"file://{tmp_path / 'source-blobs'}"
    config = ArchiveConfig(
        database_url=f"sqlite:///{tmp_path / 'source.db'}",
        storage=storage_config_from_url(url),
        signing=signing,
    )
    clock = FixedClock(datetime(2025, 12, 30, 10, 0, tzinfo=UTC))
    with Archive(config, clock=clock) as archive:
        archive.initialise(organisation=ORGANISATION)
        archive.add_classification(
            "Φ.12", "Άδειες", retention_years=10, disposal="destroy", by="admin"
        )
        archive.add_department("ΔΤΥ", "Διεύθυνση Τεχνικών Υπηρεσιών", by="admin")
        archive.add_department("ΤΜ-ΠΡΑΣ", "Τμήμα Πρασίνου", parent="ΔΤΥ", by="admin")
        archive.add_department("KEP", "ΚΕΠ", digest_email="kep@chania.gr", by="admin")
        archive.add_department("ΓΡΑΦ", "Γραφείο που καταργήθηκε", by="admin")
        archive.close_department("ΓΡΑΦ", by="admin")
        archive.add_user("kep", "Υπάλληλος ΚΕΠ", department="KEP", roles=[Role.ISSUER], by="admin")
        shared = pdfs.make_pdf(2, text="Shared attachment")
        for i in range(3):  # 2025: 1–3
            archive.register(
                NewRegistration(direction="incoming", subject=f"Αίτηση {i}", sender="Μαρία"),
                [FileInput(f"αίτηση-{i}.pdf", pdfs.make_pdf(1, text=f"2025/{i}"), FileRole.MAIN)],
                by="admin",
            )
        clock.set(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
        archive.register(  # 2026: 1
            NewRegistration(
                direction="incoming",
                subject="Αίτηση για κλάδεμα δέντρων",
                sender="Νίκος Μαρκάκης",
                sender_reference="Α-17",
                sender_date=date(2026, 2, 27),
                channel="counter",
                classification_code="Φ.12",
            ),
            [
                FileInput("αίτηση.pdf", pdfs.make_pdf(2), FileRole.MAIN),
                FileInput("σημείωμα.txt", "Σημείωμα".encode(), FileRole.ATTACHMENT),
                FileInput("κοινό.pdf", shared, FileRole.ATTACHMENT),
            ],
            by="admin",
        )
        archive.register(  # 2026: 2, related to 1, shares a file with it
            NewRegistration(
                direction="outgoing",
                subject="Απάντηση",
                recipients=["Νίκος Μαρκάκης"],
                related=["1/2026", "2/2025"],
            ),
            [FileInput("κοινό.pdf", shared, FileRole.ATTACHMENT)],
            by="admin",
        )
        archive.register(NewRegistration(direction="internal", subject="Λάθος"), by="admin")
        archive.assign("general", 2026, 3, department="ΔΤΥ", by="admin")  # ends with it
        archive.cancel(
            "general", 2026, 3, reason="Διπλή", authorisation="Απόφαση 3/2026", by="admin"
        )
        archive.register(NewRegistration(direction="incoming", subject="Αρχικό"), by="admin")
        archive.correct(
            "general", 2026, 4, {"subject": "Διορθωμένο"}, reason="Τυπογραφικό", by="admin"
        )
        archive.correct("general", 2026, 4, {"related": ["1/2026"]}, reason="Σχετικό", by="admin")
        routed = archive.assign(
            "general", 2026, 1, department="ΔΤΥ", purpose=Purpose.ACTION, by="admin"
        )
        archive.accept(routed.id, by="admin")
        archive.forward(routed.id, department="ΤΜ-ΠΡΑΣ", by="admin", note="Αρμοδιότητας")
        archive.issue_certificate("permanent-residence", CITIZEN, by="kep")  # 2026: 5
        # A book whose records come first in the export and refer ahead, to general 2026.
        archive.create_book("confidential", "Εμπιστευτικό πρωτόκολλο", by="admin")
        archive.register(
            NewRegistration(
                direction="incoming",
                subject="Εμπιστευτικό",
                related=["general:1/2026"],
                book="confidential",
            ),
            by="admin",
        )
        secret = archive.assign("confidential", 2026, 1, department="KEP", by="admin")
        archive.accept(secret.id, by="admin")
        archive.complete(secret.id, by="admin", reply=ProtocolRef("general", 2026, 2))
        clock.set(datetime(2026, 3, 3, 7, 0, tzinfo=UTC))
        archive.produce_daily_register(date(2026, 3, 2), by="admin")
        yield archive, _env(config, url)


def _comparable(entry: Registration) -> dict[str, Any]:
    """What a registration is, without the database ids another archive gives it."""
    value = dataclasses.asdict(entry)
    value.pop("id")
    for f in value["files"]:
        f.pop("id")
    for a in value["assignments"]:
        a.pop("id")
        a["forwarded_from"] = a["forwarded_from"] is not None
    return value


def _bytes(archive: Archive, entry: Registration) -> list[bytes]:
    return [
        b"".join(archive.read_file(entry.book, entry.year, entry.number, f.id)[1])
        for f in entry.files
    ]


@pytest.fixture(params=["local", "s3"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return f"file://{tmp_path / 'target-blobs'}"
    seaweed: SeaweedServer = request.getfixturevalue("seaweed")
    return seaweed.storage_url(seaweed.make_bucket(f"import-{uuid.uuid4().hex[:8]}"))


def test_an_export_imported_elsewhere_is_the_same_protocol_book(
    source: tuple[Archive, dict[str, str]],
    database_url: str,
    target_url: str,
    signing: SigningConfig,
    tmp_path: Path,
) -> None:
    archive, source_env = source
    exported = run_cli("export", "bag", "--json", env=source_env, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    summary = json.loads(exported.stdout)
    assert summary["registrations"] == 9
    assert summary["files"] == 7  # 3 in 2025, 3 + the certificate in 2026: the shared one once
    bag = tmp_path / "bag"
    bagit.Bag(str(bag)).validate()  # a bag any BagIt tool accepts
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    _check_chain_as_documented(bag)
    # The signed daily register of 2 March goes with its year, as evidence of the source.
    (register,) = [json.loads(line) for line in (bag / "data/daily-registers.jsonl").open()]
    stored = archive.daily_register(date(2026, 3, 2))
    assert register["day"] == "2026-03-02" and register["pdf_sha256"] == stored.pdf_sha256
    signed = (bag / "data/daily-registers/2026-03-02.pdf").read_bytes()
    assert hashlib.sha256(signed).hexdigest() == stored.pdf_sha256
    assert signed == b"".join(archive.read_daily_register(date(2026, 3, 2), "pdf"))

    config = ArchiveConfig(
        database_url=database_url, storage=storage_config_from_url(target_url), signing=signing
    )
    env = _env(config, target_url)
    assert run_cli("init", "--organisation", ORGANISATION, env=env).returncode == 0
    imported = run_cli("import", str(bag), env=env)
    assert imported.returncode == 0, imported.stderr
    series = "confidential 2026: 1–1; general 2025: 1–3; general 2026: 1–5"
    assert f"imported 9 registrations ({series})" in imported.stdout

    config = dataclasses.replace(config, index_dir=tmp_path / "index")
    with Archive(config, clock=FixedClock(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))) as target:
        after = _assert_same_book(archive, target)
        certificate = after[-1]
        assert certificate.verification_code is not None
        check = target.verify_code(certificate.verification_code)
        assert check.status == VerificationStatus.VALID
        assert check.protocol_number == "5/2026"
        assert {d.code for d in target.departments()} == {"ΔΤΥ", "ΤΜ-ΠΡΑΣ", "KEP", "ΓΡΑΦ"}
        assert target.departments(closed=True) == archive.departments(closed=True)  # and when
        assert target.departments(closed=True)[0].closed_at is not None
        assert target.department_path("ΤΜ-ΠΡΑΣ") == ("ΔΤΥ", "ΤΜ-ΠΡΑΣ")
        assert target.fsck().ok
        assert target.verify_audit_chain().ok
        trail = target.audit_trail(after[0])
        assert [e.action for e in trail] == ["registration.imported"]
        assert trail[0].details["registered_by"] == "admin"
        target.index_pending()  # the imported entries are searchable like registered ones
        found = target.search("κλάδεμα", by="admin")
        assert [(h.year, h.number) for h in found.hits] == [(2026, 1)]
        # The book goes on from where the imported year ended: no gap, no reuse.
        next_one = target.register(NewRegistration(direction="incoming", subject="Νέα"), by="admin")
        assert next_one.protocol_number == "6/2026"


def _assert_same_book(archive: Archive, target: Archive) -> list[Registration]:
    """Both archives hold the same registrations with the same files; the target's, in order."""

    def in_order(entries: Iterator[Registration]) -> list[Registration]:
        return sorted(entries, key=lambda e: (e.book, e.year, e.number))

    before, after = in_order(all_registrations(archive)), in_order(all_registrations(target))
    assert [_comparable(e) for e in after] == [_comparable(e) for e in before]
    for old, new in zip(before, after, strict=True):
        assert _bytes(target, new) == _bytes(archive, old)
    assert [r.reply for r in after[0].assignments] == [ProtocolRef("general", 2026, 2)]
    assert after[0].related == (ProtocolRef("general", 2026, 1),)
    return after


def test_references_to_records_further_on_in_the_export_are_kept(
    source: tuple[Archive, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, _ = source
    archive.export(tmp_path / "bag", by="admin")
    # Written two at a time, the confidential entry's relation and its assignment's reply point
    # to entries of a later chunk.
    monkeypatch.setattr(transfer, "_BATCH", 2)
    config = ArchiveConfig(
        database_url=f"sqlite:///{tmp_path / 'target.db'}",
        storage=LocalStorageConfig(tmp_path / "target-blobs"),
    )
    with Archive(config) as target:
        target.initialise(organisation=ORGANISATION)
        target.import_export(tmp_path / "bag", by="admin")
        _assert_same_book(archive, target)


def _check_chain_as_documented(bag: Path) -> None:
    """Recompute the exported audit chain the way docs/export-format.md tells a reader to."""
    previous = "0" * 64
    lines = (bag / "data" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines:
        event = json.loads(line)
        material = {k: event[k] for k in ("seq", "occurred_at", "actor", "action", "target")}
        material |= {"details": event["details"], "prev_hash": previous}
        text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(text.encode()).hexdigest() == event["hash"]
        previous = event["hash"]
    info = (bag / "bag-info.txt").read_text(encoding="utf-8")
    assert f"EProtocol-Audit-Head: {previous}" in info
    assert len(lines) > 20


def test_a_damaged_or_unfitting_export_is_refused_and_leaves_nothing(
    source: tuple[Archive, dict[str, str]], tmp_path: Path, clock: FixedClock
) -> None:
    archive, _ = source
    archive.export(tmp_path / "bag", by="admin")
    config = ArchiveConfig(
        database_url=f"sqlite:///{tmp_path / 'target.db'}",
        storage=LocalStorageConfig(tmp_path / "target-blobs"),
    )
    with Archive(config, clock=clock) as target:
        target.initialise(organisation=ORGANISATION)
        target.add_user("clerk", "Υπάλληλος", roles=[Role.CLERK], by="admin")
        empty = table_counts(config)

        with pytest.raises(Forbidden):
            target.import_export(tmp_path / "bag", by="clerk")

        damaged = tmp_path / "damaged"
        shutil.copytree(tmp_path / "bag", damaged)
        payload = next(p for p in (damaged / "data" / "files").rglob("*") if p.is_file())
        changed = bytearray(payload.read_bytes())
        changed[len(changed) // 2] ^= 0x01
        payload.write_bytes(bytes(changed))
        with pytest.raises(InvalidTransfer, match="not a whole, unchanged export"):
            target.import_export(damaged, by="admin")

        def without_2026_2(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [r for r in records if (r["year"], r["number"]) != (2026, 2)]

        linked = tmp_path / "linked"
        shutil.copytree(tmp_path / "bag", linked)
        payload = next(p for p in (linked / "data" / "files").rglob("*") if p.is_file())
        outside = tmp_path / "outside"
        payload.rename(outside)  # same bytes, so the manifest still matches through the link
        payload.symlink_to(outside)
        with pytest.raises(InvalidTransfer, match="is unsafe"):  # bagit refuses links out
            target.import_export(linked, by="admin")

        gap = _rewritten(tmp_path / "bag", tmp_path / "gap", without_2026_2)
        with pytest.raises(InvalidTransfer, match="do not run from 1 without gaps"):
            target.import_export(gap, by="admin")

        def dangling(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            records[-1]["related"] = ["general:99/2020"]
            return records

        elsewhere = _rewritten(tmp_path / "bag", tmp_path / "dangling", dangling)
        with pytest.raises(InvalidTransfer, match="general:99/2020, which neither it nor"):
            target.import_export(elsewhere, by="admin")

        def overlong_title(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            records[-1]["seal"]["title"] = "Β" * 1001
            return records

        bad = _rewritten(tmp_path / "bag", tmp_path / "bad", overlong_title)
        too_long = "registration record 9: title is 1001 characters long"
        with pytest.raises(InvalidTransfer, match=too_long):
            target.import_export(bad, by="admin")

        garbled = tmp_path / "garbled"
        with BagWriter(garbled) as writer:
            writer.add("registrations.jsonl", [b"\xff\xfe\n"])
            writer.add_json("reference.json", BagReader(tmp_path / "bag").json("reference.json"))
            writer.finish(BagReader(tmp_path / "bag").info)
        with pytest.raises(InvalidTransfer, match=r"registrations\.jsonl line 1 is not JSON"):
            target.import_export(garbled, by="admin")

        assert table_counts(config) == empty
        assert not [p for p in (tmp_path / "target-blobs").rglob("*") if p.is_file()]

        target.register(NewRegistration(direction="incoming", subject="Ήδη"), by="admin")
        with pytest.raises(Conflict, match="already has registrations in book general for 2026"):
            target.import_export(tmp_path / "bag", by="admin")


def _rewritten(
    bag: Path, to: Path, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
) -> Path:
    """A copy of an export with its registration records changed, packaged afresh (a valid bag)."""
    reader = BagReader(bag)
    with BagWriter(to) as writer:
        records = change(list(reader.json_lines("registrations.jsonl")))
        writer.add_json_lines("registrations.jsonl", records)
        writer.add_json("reference.json", reader.json("reference.json"))
        for path in sorted((bag / "data" / "files").rglob("*")):
            if path.is_file():
                writer.add(str(path.relative_to(bag / "data")), [path.read_bytes()])
        writer.finish(reader.info)
    return to


def test_an_export_is_written_whole_or_not_at_all(
    source: tuple[Archive, dict[str, str]], tmp_path: Path
) -> None:
    archive, env = source
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    with pytest.raises(Conflict, match="already exists"):
        archive.export(tmp_path / "taken", by="admin")

    entry = archive.get("general", 2026, 1)
    blob = tmp_path / "source-blobs" / entry.files[0].storage_key
    blob.chmod(0o644)
    blob.write_bytes(b"damaged")
    failed = run_cli("export", str(tmp_path / "out"), env=env)
    assert failed.returncode == 1
    assert failed.stderr.startswith("eprotocol: ") and len(failed.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def _on_s3(seaweed: SeaweedServer, bucket: str, database: Path) -> ArchiveConfig:
    """An archive on a SQLite file and a SeaweedFS bucket."""
    return ArchiveConfig(
        database_url=f"sqlite:///{database}",
        storage=storage_config_from_url(seaweed.storage_url(bucket)),
    )


def test_an_import_whose_storage_fails_records_nothing(
    source: tuple[Archive, dict[str, str]], seaweed: SeaweedServer, tmp_path: Path
) -> None:
    archive, _ = source
    archive.export(tmp_path / "bag", by="admin")
    bucket = seaweed.make_bucket(f"gone-{uuid.uuid4().hex[:8]}")
    config = _on_s3(seaweed, bucket, tmp_path / "target.db")
    with Archive(config) as target:
        target.initialise(organisation=ORGANISATION)
        before = table_counts(config)
        seaweed.client().remove_bucket(bucket)  # storage fails under the import
        with pytest.raises(StorageUnavailable):
            target.import_export(tmp_path / "bag", by="admin")
        assert table_counts(config) == before


def test_an_import_run_again_stores_each_file_once_where_the_bucket_keeps_versions(
    source: tuple[Archive, dict[str, str]], seaweed: SeaweedServer, tmp_path: Path
) -> None:
    """The second run after a failed one (its files stored, nothing recorded) adds no copies."""
    archive, _ = source
    archive.export(tmp_path / "bag", by="admin")
    bucket = seaweed.make_bucket(f"again-{uuid.uuid4().hex[:8]}")
    seaweed.client().set_bucket_versioning(bucket, VersioningConfig(ENABLED))
    for attempt in ("first", "second"):  # a new database each time: the first run "failed"
        with Archive(_on_s3(seaweed, bucket, tmp_path / f"{attempt}.db")) as target:
            target.initialise(organisation=ORGANISATION)
            assert target.import_export(tmp_path / "bag", by="admin").registrations == 9
            assert target.fsck().ok
    stored = [
        v.object_name
        for v in seaweed.client().list_objects(
            bucket, prefix="sha256/", recursive=True, include_version=True
        )
    ]
    assert len(stored) == len(set(stored)) == 7


def test_an_export_that_changes_during_its_import_is_refused(
    source: tuple[Archive, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, _ = source
    archive.export(tmp_path / "bag", by="admin")
    reads = 0
    original = BagReader.json_lines

    def second_read_differs(self: BagReader, path: str) -> Iterator[Any]:
        nonlocal reads
        reads += 1
        records = list(original(self, path))
        return iter(records[:-1] if reads == 2 else records)

    monkeypatch.setattr(BagReader, "json_lines", second_read_differs)
    config = ArchiveConfig(
        database_url=f"sqlite:///{tmp_path / 'target.db'}",
        storage=LocalStorageConfig(tmp_path / "target-blobs"),
    )
    with Archive(config) as target:
        target.initialise(organisation=ORGANISATION)
        before = table_counts(config)
        with pytest.raises(InvalidTransfer, match="changed while it was being imported"):
            target.import_export(tmp_path / "bag", by="admin")
        assert table_counts(config) == before


def test_records_of_another_system_bagged_with_the_bagit_tool_are_imported(
    source: tuple[Archive, dict[str, str]], tmp_path: Path
) -> None:
    archive, _ = source
    archive.export(tmp_path / "bag", by="admin")

    # What another system's converter writes: the payload alone, then bagged by the tool.
    def bagged(name: str, *, with_format: bool) -> Path:
        legacy = tmp_path / name
        shutil.copytree(tmp_path / "bag" / "data", legacy)
        (legacy / "audit.jsonl").unlink()
        # As archives before 2026-12-02 exported it, a cancelled entry's work still open.
        lines = (legacy / "registrations.jsonl").read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines]
        (cancelled,) = [r for r in records if r["status"] == "cancelled"]
        assert cancelled["assignments"][0]["state"] == "withdrawn"
        cancelled["assignments"][0] |= {"state": "pending", "closed_by": None, "closed_at": None}
        (legacy / "registrations.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
        )
        reference = json.loads((legacy / "reference.json").read_text(encoding="utf-8"))
        if not with_format:
            del reference["format"]
        (legacy / "reference.json").write_text(json.dumps(reference), encoding="utf-8")
        bagit.make_bag(str(legacy), {"Source-Organization": "Παλιό σύστημα"}, checksums=["sha256"])
        return legacy

    config = ArchiveConfig(
        database_url=f"sqlite:///{tmp_path / 'target.db'}",
        storage=LocalStorageConfig(tmp_path / "target-blobs"),
    )
    with Archive(config) as target:
        target.initialise(organisation=ORGANISATION)
        with pytest.raises(InvalidTransfer, match="not in the layout of format 1"):
            target.import_export(bagged("unversioned", with_format=False), by="admin")
        legacy = bagged("legacy", with_format=True)
        report = target.import_export(legacy, by="admin")
        assert report.registrations == 9
        _assert_same_book(archive, target)
        trail = target.audit_trail(target.get("general", 2025, 1))
        assert trail[0].details["source"]["organisation"] == "Παλιό σύστημα"
