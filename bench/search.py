"""Benchmark: search indexing throughput, query latency on 100,000 registrations, rebuild memory.

(a) Indexing: registrations with distinct 2-page Greek PDFs are indexed from the outbox —
text extracted from storage in the sandboxed workers, analysed, committed — beside raw
Whoosh batch indexing of the same texts into the same schema (same analyzers) in the same
run (goal ratio >= 0.5). pypdf and pypdfium2 extraction of the same PDFs are timed too.
(b) Queries: p50/p95 of 3-word queries with highlights on a corpus of ``--corpus``
registrations (goal p95 < 100 ms), and the peak RSS of a separate process rebuilding that
index (goal < 1 GB). Each registration is a citizen's request as a protocol office sees
them: a subject naming the request, the citizen and an address, the citizen as sender, the
heading of the filing plan for that kind of request (15 headings, counted as a facet), and
a text attachment of 80 words of Greek prose from the shared corpus plus that sentence.
"Typed" queries are what staff look for — a word of the request, the surname, the street
(the goal applies to these); "random" queries are three words drawn from the prose, which,
with its vocabulary of under 2,000 words, match a tenth of the corpus each: a worst case
printed for comparison.

    .venv/bin/python -m bench.search [--pdfs 200] [--rounds 3] [--corpus 100000] [--queries 300]
"""

from __future__ import annotations

import argparse
import io
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pypdfium2
from pypdf import PdfReader
from whoosh import index as whoosh_index

from bench.report import report
from eprotocol import Archive, ArchiveConfig, FileInput, FileRole, LocalStorageConfig
from eprotocol import NewRegistration as New
from eprotocol.core.filing_plan import heading
from eprotocol.search.whoosh_index import schema
from tests.pdfs import greek_pdf

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
GOAL = 0.5
NAMES = ["Παπαδάκης Γιώργος", "Καλογεροπούλου Μαρία", "Μαρκάκης Νίκος", "Βλαχάκη Ελένη"]
STEMS = [
    "Παπαδ",
    "Μαρκ",
    "Βλαχ",
    "Καλογερ",
    "Σταυρ",
    "Γεωργ",
    "Νικολ",
    "Δημητρ",
    "Κωνσταντιν",
    "Αλεξ",
    "Μανωλ",
    "Φραγκ",
    "Ξυλ",
    "Τζαν",
    "Χατζ",
    "Λαμπρ",
    "Ζαχαρ",
    "Πετρ",
    "Σπυρ",
    "Μιχαλ",
    "Βασιλ",
    "Αντων",
    "Ηλι",
    "Θεοδωρ",
    "Κυριακ",
    "Λιναρ",
    "Μπαλ",
    "Ορφαν",
    "Ρουσ",
    "Τσικ",
]
SUFFIXES = ["άκης", "όπουλος", "ίδης", "άτος", "ιάδης", "άκος", "ούδης", "έας"]
FIRST_NAMES = [
    "Γιώργος",
    "Μαρία",
    "Νίκος",
    "Ελένη",
    "Κώστας",
    "Αικατερίνη",
    "Μανώλης",
    "Ειρήνη",
    "Γιάννης",
    "Σοφία",
    "Μιχάλης",
    "Άννα",
    "Δημήτρης",
    "Ευαγγελία",
    "Στέλιος",
    "Δέσποινα",
    "Αντώνης",
    "Χρυσούλα",
    "Παύλος",
    "Φωτεινή",
]
STREETS = [
    "Κυδωνίας",
    "Χάληδων",
    "Τζανακάκη",
    "Αποκορώνου",
    "Σκαλίδη",
    "Μουσούρων",
    "Κορωναίου",
    "Πλαστήρα",
    "Δασκαλογιάννη",
    "Ζυμβρακάκηδων",
    "Καλαϊτζάκη",
    "Σήφακα",
    "Πειραιώς",
    "Χατζημιχάλη Γιάνναρη",
    "Ηρώων Πολυτεχνείου",
    "Ελευθερίου Βενιζέλου",
    "Τομπάζη",
    "Παπανικολή",
    "Δραγούμη",
    "Μάρκου Μπότσαρη",
    "Νεάρχου",
    "Αργυροπούλων",
    "Ίμβρου",
]
REQUESTS = [
    "Αίτηση για βεβαίωση μόνιμης κατοικίας",
    "Αίτηση για άδεια κατάληψης κοινόχρηστου χώρου",
    "Αίτηση επιστροφής τελών ύδρευσης",
    "Καταγγελία για θόρυβο από κατάστημα",
    "Αίτηση για κλάδεμα δέντρων στο πεζοδρόμιο",
    "Αίτηση σύνδεσης με το δίκτυο αποχέτευσης",
    "Αναφορά για λακκούβα στο οδόστρωμα",
    "Αίτηση για άδεια λειτουργίας καταστήματος υγειονομικού ενδιαφέροντος",
    "Αίτηση για πιστοποιητικό οικογενειακής κατάστασης",
    "Αίτηση διαγραφής οφειλής τελών καθαριότητας",
    "Ένσταση κατά πράξης επιβολής προστίμου στάθμευσης",
    "Αίτηση εγγραφής στους βρεφονηπιακούς σταθμούς",
    "Αίτηση για χορήγηση θέσης στάθμευσης ατόμου με αναπηρία",
    "Αναφορά για βλάβη στον δημοτικό φωτισμό",
    "Αίτηση για αποκομιδή ογκωδών αντικειμένων",
]
#: A heading of the filing plan for each kind of request (the search's facet by heading).
HEADINGS = {
    request: heading(f"Φ.{100 + i}", request, retention_years=5)
    for i, request in enumerate(REQUESTS)
}


def words() -> list[str]:
    """The Greek prose of the shared corpus, as a list of words."""
    return [w for p in sorted(CORPUS.glob("*.txt")) for w in p.read_text("utf-8").split()]


def passage(rng: random.Random, prose: list[str], length: int) -> str:
    """``length`` consecutive words of the prose from a random place."""
    start = rng.randrange(len(prose) - length)
    return " ".join(prose[start : start + length])


def config_in(root: Path) -> ArchiveConfig:
    """An embedded-default archive in ``root``."""
    return ArchiveConfig(
        database_url=f"sqlite:///{root / 'eprotocol.db'}",
        storage=LocalStorageConfig(root / "blobs"),
        index_dir=root / "index",
    )


def register_all(archive: Archive, entries: list[tuple[New, list[FileInput]]]) -> None:
    """Register ``entries`` with 8 writer threads (group commit)."""
    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(archive.register, e, f, by="admin") for e, f in entries]:
            future.result()


def indexing(rounds: int, count: int, prose: list[str]) -> None:
    """Part (a): ours from the outbox against raw Whoosh on the same texts."""
    rng = random.Random(1)
    ours: list[float] = []
    raw: list[float] = []
    for round_no in range(rounds):
        with tempfile.TemporaryDirectory(prefix="eprotocol-bench-") as tmp:
            root = Path(tmp)
            pdfs = [
                greek_pdf(passage(rng, prose, 330), passage(rng, prose, 330)) for _ in range(count)
            ]
            with Archive(config_in(root)) as archive:
                archive.initialise(organisation="Δήμος Χανίων")
                # Warm up (first index, extraction workers started): steady state is measured.
                archive.register(
                    New(direction="incoming", subject="Προθέρμανση"),
                    [FileInput("α.pdf", greek_pdf("Προθέρμανση"), FileRole.MAIN)],
                    by="admin",
                )
                archive.index_pending()
                entries = [
                    (
                        New(
                            direction="incoming",
                            subject=passage(rng, prose, 12),
                            sender=NAMES[i % 4],
                        ),
                        [FileInput(f"έγγραφο-{i}.pdf", pdf, FileRole.MAIN)],
                    )
                    for i, pdf in enumerate(pdfs)
                ]
                register_all(archive, entries)
                started = time.perf_counter()
                while archive.index_pending(batch=count):
                    pass
                ours.append(count / (time.perf_counter() - started))
                texts = [pdfium_text(pdf) for pdf in pdfs]
            (root / "raw").mkdir()
            ix = whoosh_index.create_in(str(root / "raw"), schema())
            started = time.perf_counter()
            with ix.writer() as writer:
                for i, ((entry, _), text) in enumerate(zip(entries, texts, strict=True)):
                    everything = f"{entry.subject}\n{entry.sender}\n{text}"
                    writer.update_document(
                        id=str(i),
                        subject=entry.subject,
                        correspondents=entry.sender,
                        text=everything,
                        text_sound=everything,
                    )
            raw.append(count / (time.perf_counter() - started))
            print(
                f"round {round_no + 1}: raw Whoosh {raw[-1]:6.1f} docs/s, ours {ours[-1]:6.1f} /s"
            )
            if round_no == 0:
                extractors(pdfs[:50])
    report(
        "raw Whoosh batch indexing of the same texts",
        raw,
        "outbox indexing (extract + index)",
        ours,
        GOAL,
    )


def pdfium_text(pdf: bytes) -> str:
    """The text of a PDF with pypdfium2 (as the extraction worker does)."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return "\n".join(page.get_textpage().get_text_bounded() for page in document)
    finally:
        document.close()


def pypdf_text(pdf: bytes) -> str:
    """The text of a PDF with pypdf."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def extractors(pdfs: list[bytes]) -> None:
    """Pages per second of pypdf and pypdfium2 on the same PDFs, and whether the words agree."""
    rates = {}
    outputs = {}
    for name, extract in (("pypdf", pypdf_text), ("pypdfium2", pdfium_text)):
        started = time.perf_counter()
        outputs[name] = [extract(pdf).split() for pdf in pdfs]
        rates[name] = 2 * len(pdfs) / (time.perf_counter() - started)
    same = sum(a == b for a, b in zip(outputs["pypdf"], outputs["pypdfium2"], strict=True))
    print(
        f"extraction: pypdf {rates['pypdf']:.0f} pages/s, pypdfium2 {rates['pypdfium2']:.0f} "
        f"pages/s; same words in {same} of {len(pdfs)} PDFs"
    )


def rebuild_in_child(root: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of a separate process rebuilding the index of ``root``."""
    code = (
        "import sys; from pathlib import Path; from bench.search import config_in;"
        "from eprotocol import Archive;"
        "a = Archive(config_in(Path(sys.argv[1]))); a.rebuild_index(); a.close()"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(root)], check=True)  # noqa: S603
    elapsed = time.perf_counter() - started
    return elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values``."""
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def citizen_request(rng: random.Random, prose: list[str]) -> tuple[New, list[FileInput], str]:
    """One registration of the "citizen requests" corpus, and a query staff would type for it."""
    surname = rng.choice(STEMS) + rng.choice(SUFFIXES)
    street = rng.choice(STREETS)
    request = rng.choice(REQUESTS)
    citizen = f"{rng.choice(FIRST_NAMES)} {surname}"
    subject = f"{request} — {citizen}, οδός {street} {rng.randint(1, 120)}"
    text = f"{subject}. {passage(rng, prose, 80)}"
    entry = New(
        direction=rng.choice(["incoming", "outgoing"]),
        subject=subject,
        sender=citizen,
        classification_code=HEADINGS[request].code,
    )
    keyword = max(request.split(), key=len)
    return (
        entry,
        [FileInput("κείμενο.txt", text.encode())],
        f"{keyword} {surname} {street.split()[-1]}",
    )


def latencies(archive: Archive, queries: list[str]) -> tuple[float, float]:
    """p50 and p95 in milliseconds of searching each query (first 20 hits, highlighted)."""
    timings = []
    for query in queries:
        started = time.perf_counter()
        archive.search(query, by="admin", limit=20)
        timings.append((time.perf_counter() - started) * 1000)
    return percentile(timings, 0.5), percentile(timings, 0.95)


def querying(corpus: int, queries: int, prose: list[str]) -> None:
    """Part (b): a large corpus, its rebuild's memory, and query latency."""
    rng = random.Random(2)
    typed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="eprotocol-bench-") as tmp:
        root = Path(tmp)
        with Archive(config_in(root)) as archive:
            archive.initialise(organisation="Δήμος Χανίων")
            archive.add_classifications(HEADINGS.values(), by="admin")
            started = time.perf_counter()
            for start in range(0, corpus, 5000):
                batch = [citizen_request(rng, prose) for _ in range(min(5000, corpus - start))]
                register_all(archive, [(entry, files) for entry, files, _ in batch])
                typed += [query for _, _, query in batch]
            print(f"set-up: {corpus} registrations in {time.perf_counter() - started:.0f} s")
        elapsed, rss = rebuild_in_child(root)
        print(f"rebuild of {corpus}: {elapsed:.0f} s, peak RSS {rss:.0f} MB (goal < 1024)")
        with Archive(config_in(root)) as archive:
            archive.search("Χανιά", by="admin")  # open the index
            p50, p95 = latencies(archive, rng.sample(typed, queries))
            print(f"typed 3-word queries: p50 {p50:.1f} ms, p95 {p95:.1f} ms (goal p95 < 100)")
            p50, p95 = latencies(archive, [" ".join(rng.sample(prose, 3)) for _ in range(queries)])
            print(f"random 3-word queries (worst case): p50 {p50:.1f} ms, p95 {p95:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdfs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    prose = words()
    indexing(args.rounds, args.pdfs, prose)
    querying(args.corpus, args.queries, prose)


if __name__ == "__main__":
    main()
