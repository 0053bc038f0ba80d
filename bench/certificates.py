"""Benchmark: issuing certificates (render + register + stamp + sign + store) at the counter.

Beside it, in the same run, bare pyHanko signing of the same one-page PDF with
the same key (PAdES, no registration, no storage). Prints both rates, their
ratio (goal: >= 0.4) and the issuance latency p50/p95 (goal: p95 < 250 ms) with
``--desks`` counter employees issuing at once, on the embedded defaults
(SQLite, local files).

    .venv/bin/python -m bench.certificates [--count 200] [--desks 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter

from bench.report import report
from eprotocol import Archive, ArchiveConfig, LocalStorageConfig, Role
from eprotocol.config import SigningConfig
from eprotocol.core.certificates import CertificateSheet, Seal
from eprotocol.pdf.render import ReportlabRenderer
from eprotocol.pdf.signing import create_development_identity

GOAL = 0.4
P95_GOAL_MS = 250.0
FIELDS = {
    "full_name": "Γεώργιος Παπαδάκης",
    "father_name": "Ιωάννης",
    "birth_date": "04/03/1980",
    "afm": "090000045",
    "address": "Χάληδων 12, Χανιά",
}


def bare_signing(p12: Path, password: bytes, pdf: bytes, count: int) -> float:
    """Signatures per second of pyHanko alone on ``pdf``."""
    signer = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=password)  # type: ignore[no-untyped-call]
    meta = signers.PdfSignatureMetadata(
        field_name="bench", subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    started = time.perf_counter()
    for _ in range(count):
        signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer)
    return count / (time.perf_counter() - started)


def issue(archive: Archive, count: int, desks: int) -> tuple[float, list[float]]:
    """Issue ``count`` certificates from ``desks`` threads; the rate and each latency (s)."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_desk = count // desks

    def desk(n: int) -> None:
        for _ in range(per_desk):
            started = time.perf_counter()
            archive.issue_certificate("permanent-residence", FIELDS, by=f"kep{n}")
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)

    threads = [threading.Thread(target=desk, args=(n,)) for n in range(desks)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.perf_counter() - started), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--desks", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ours, raw, latencies = [], [], []
    with tempfile.TemporaryDirectory(prefix="eprotocol-bench-") as tmp:
        root = Path(tmp)
        create_development_identity(root / "signing.p12", b"bench", "Δήμος Χανίων")
        config = ArchiveConfig(
            database_url=f"sqlite:///{root / 'eprotocol.db'}",
            storage=LocalStorageConfig(root / "blobs"),
            signing=SigningConfig(root / "signing.p12", b"bench"),
        )
        with Archive(config) as archive:
            archive.initialise(organisation="Δήμος Χανίων")
            archive.add_department("KEP", "ΚΕΠ", by="admin")
            for n in range(args.desks):
                archive.add_user(
                    f"kep{n}", f"Υπάλληλος {n}", department="KEP", roles=[Role.ISSUER], by="admin"
                )
            (template,) = [
                t for t in archive.certificate_templates() if t.code == "permanent-residence"
            ]
            seal = Seal(
                "Δήμος Χανίων",
                "1/2026",
                datetime.now(UTC),
                "2222-3333-4444-5555",
                "http://127.0.0.1:8000/verify/2222-3333-4444-5555",
            )
            # The same page, unsigned: what bare signing is given.
            unsigned = ReportlabRenderer().certificate(
                CertificateSheet(seal, template.title, template.paragraphs(template.clean(FIELDS)))
            )
            for round_no in range(args.rounds):
                raw.append(bare_signing(root / "signing.p12", b"bench", unsigned, args.count // 2))
                rate, took = issue(archive, args.count, args.desks)
                ours.append(rate)
                latencies += took
                print(
                    f"round {round_no + 1}: bare signing {raw[-1]:5.1f} /s, "
                    f"certificates {ours[-1]:5.1f} /s"
                )
    cuts = statistics.quantiles(latencies, n=100)
    p50, p95 = statistics.median(latencies) * 1000, cuts[94] * 1000
    print(
        f"issuance latency with {args.desks} desks: p50 {p50:.0f} ms, p95 {p95:.0f} ms "
        f"(goal p95 < {P95_GOAL_MS:.0f} ms) {'OK' if p95 < P95_GOAL_MS else 'ABOVE GOAL'}"
    )
    report("bare pyHanko signing of the same page", raw, "certificates issued", ours, GOAL)


if __name__ == "__main__":
    main()
