"""Benchmark: registrations over HTTP (multipart, 2-page PDF) with 16 concurrent clients.

Runs ``eprotocol serve`` on the embedded defaults (SQLite, local files, the
search index; one server process per CPU, at most 4, with the background jobs
beside them) on 127.0.0.1 and posts registrations from ``--clients`` threads.
Beside it, in the same run, the library's own ``Archive.register`` rate with as
many threads on an archive of the same kind, its background worker indexing.
Prints both rates, their ratio (goal: >= 0.5) and the HTTP latency p50/p95
(goal: p95 < 200 ms).

    .venv/bin/python -m bench.api [--count 800] [--clients 16] [--rounds 3] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.intake import documents
from bench.report import report
from eprotocol import (
    Archive,
    ArchiveConfig,
    FileInput,
    FileRole,
    LocalStorageConfig,
    NewRegistration,
)
from eprotocol.worker import Worker
from tests.support import start_server, stop_server

GOAL = 0.5
P95_GOAL_MS = 200.0
PASSWORD = secrets.token_urlsafe(16)  # the throw-away server's admin password
METADATA = json.dumps(
    {"direction": "incoming", "subject": "Αίτηση για βεβαίωση", "sender": "Μαρία Παπαδάκη"}
)


def library_rate(root: Path, docs: list[bytes], clients: int) -> float:
    """Registrations/s through ``Archive.register`` from ``clients`` threads.

    The background worker runs beside them, indexing, as it does in the server.
    """
    config = ArchiveConfig(
        database_url=f"sqlite:///{root / 'library.db'}",
        storage=LocalStorageConfig(root / "library-blobs"),
        index_dir=root / "library-index",
    )
    with Archive(config) as archive:
        archive.initialise(organisation="Δήμος Χανίων")
        stop = threading.Event()
        jobs = threading.Thread(
            target=Worker(archive, archive.clock, archive.timezone).run, args=(stop,)
        )
        jobs.start()

        def register(doc: bytes) -> None:
            archive.register(
                NewRegistration(direction="incoming", subject="Αίτηση για βεβαίωση"),
                [FileInput("αίτηση.pdf", doc, FileRole.MAIN)],
                by="admin",
            )

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(register, docs))
        rate = len(docs) / (time.perf_counter() - started)
        stop.set()
        jobs.join()
        return rate


def http_rate(base: str, token: str, docs: list[bytes], clients: int) -> tuple[float, list[float]]:
    """Registrations/s over HTTP from ``clients`` threads, each with its own connection."""
    local = threading.local()
    latencies: list[float] = []

    def post(doc: bytes) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
            )
        started = time.perf_counter()
        answer = local.client.post(
            "/api/v1/registrations",
            data={"metadata": METADATA},
            files=[("files", ("αίτηση.pdf", doc, "application/pdf"))],
        )
        latencies.append(time.perf_counter() - started)
        answer.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, docs))
    return len(docs) / (time.perf_counter() - started), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=800)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=None, help="server processes (default: as `serve`)"
    )
    args = parser.parse_args()
    ours, raw, latencies = [], [], []
    with tempfile.TemporaryDirectory(prefix="eprotocol-bench-") as tmp:
        root = Path(tmp)
        server_dir = root / "server"
        server_dir.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("EPROTOCOL_")}
        proc, base = start_server(
            server_dir, env, "--admin-password", PASSWORD, workers=args.workers
        )
        try:
            token = httpx.post(
                base + "/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
            ).json()["access_token"]
            for round_no in range(args.rounds):
                # New documents every round: the server stores each content only once.
                docs = documents(args.count, first=round_no * args.count)
                raw.append(library_rate(root / f"round{round_no}", docs, args.clients))
                rate, took = http_rate(base, token, docs, args.clients)
                ours.append(rate)
                latencies += took
                print(f"round {round_no + 1}: library {raw[-1]:6.0f} /s, HTTP {ours[-1]:6.0f} /s")
        finally:
            stop_server(proc, timeout=60)
    p50 = statistics.median(latencies) * 1000
    p95 = statistics.quantiles(latencies, n=100)[94] * 1000
    verdict = "OK" if p95 < P95_GOAL_MS else "ABOVE GOAL"
    print(
        f"HTTP latency with {args.clients} clients: p50 {p50:.0f} ms, p95 {p95:.0f} ms "
        f"(goal p95 < {P95_GOAL_MS:.0f} ms) {verdict}"
    )
    report(
        "library Archive.register, same threads", raw, "HTTP multipart registrations", ours, GOAL
    )


if __name__ == "__main__":
    main()
