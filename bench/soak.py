"""Soak: a mixed load on a running server for minutes — throughput, latency, errors, memory.

Runs ``eprotocol serve`` on the embedded defaults (SQLite, local files, the
search index; one server process per CPU, at most 4, the background jobs beside
them) on 127.0.0.1 and drives it from ``--clients`` threads for ``--duration``
seconds with the day of a town hall: registrations (a distinct 2-page PDF each),
searches, downloads, routings to a department, acceptance and completion by its
staff, and certificates issued at the counter.

Prints per operation the count and p50/p95/p99 latency, the throughput, the
error count (goal: 0) and the peak RSS of the server's processes. Its baseline
is the run itself: the throughput and RSS of the last minute against the first
(ratio goal ≥ 0.8 for throughput — a server that slows down or grows as it runs
shows here).

    .venv/bin/python -m bench.soak [--duration 300] [--clients 8]
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

from bench.intake import documents
from bench.processes import descendants
from eprotocol import Role
from tests.support import clean_env, login, open_archive, start_server, stop_server

PASSWORD = secrets.token_urlsafe(16)  # the throw-away server's passwords
STAFF = "kep.staff"
#: Operations and their weights in the mix.
MIX = {
    "register": 35,
    "search": 20,
    "download": 20,
    "assign": 10,
    "complete": 8,
    "certificate": 7,
}
THROUGHPUT_GOAL = 0.8
T = TypeVar("T")


@dataclass
class Load:
    """What the clients share: the work they made for each other, and what they measured."""

    base: str
    admin: str
    staff: str
    files: list[tuple[int, int, int]] = field(default_factory=list)  # year, number, file id
    unassigned: list[tuple[int, int]] = field(default_factory=list)
    assigned: list[int] = field(default_factory=list)
    #: Per operation: (when it ended, how long it took), in seconds.
    latencies: dict[str, list[tuple[float, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, pool: list[T]) -> T:
        """Take a random item of ``pool`` (the caller made sure it has one)."""
        with self.lock:
            return pool.pop(random.randrange(len(pool)))


def register(load: Load, admin: httpx.Client, staff: httpx.Client, doc: bytes) -> httpx.Response:
    metadata = {
        "direction": "incoming",
        "subject": "Αίτηση για κλάδεμα δέντρων στο πεζοδρόμιο",
        "sender": "Μαρία Παπαδάκη",
    }
    answer = admin.post(
        "/api/v1/registrations",
        data={"metadata": json.dumps(metadata)},
        files=[("files", ("αίτηση.pdf", doc, "application/pdf"))],
    )
    if answer.status_code == 201:
        body = answer.json()
        with load.lock:
            load.files.append((body["year"], body["number"], body["files"][0]["id"]))
            load.unassigned.append((body["year"], body["number"]))
    return answer


def search(load: Load, admin: httpx.Client, staff: httpx.Client, doc: bytes) -> httpx.Response:
    return staff.get("/api/v1/search", params={"q": random.choice(["κλάδεμα", "Παπαδάκη"])})


def download(load: Load, admin: httpx.Client, staff: httpx.Client, doc: bytes) -> httpx.Response:
    with load.lock:
        year, number, file_id = random.choice(load.files)
    return admin.get(f"/api/v1/registrations/{year}/{number}/files/{file_id}")


def assign(load: Load, admin: httpx.Client, staff: httpx.Client, doc: bytes) -> httpx.Response:
    year, number = load.take(load.unassigned)
    answer = admin.post(
        f"/api/v1/registrations/{year}/{number}/assignments", json={"department": "DIOIK.KEP"}
    )
    if answer.status_code == 201:
        with load.lock:
            load.assigned.append(answer.json()["id"])
    return answer


def complete(load: Load, admin: httpx.Client, staff: httpx.Client, doc: bytes) -> httpx.Response:
    assignment = load.take(load.assigned)
    accepted = staff.post(f"/api/v1/assignments/{assignment}/accept")
    if accepted.status_code != 200:
        return accepted
    return staff.post(f"/api/v1/assignments/{assignment}/complete", json={})


def certificate(load: Load, admin: httpx.Client, staff: httpx.Client, doc: bytes) -> httpx.Response:
    return admin.post(
        "/api/v1/certificates",
        json={
            "template": "generic",
            "fields": {
                "full_name": "Ιωάννης Καλογερόπουλος",
                "statement": "είναι δημότης του Δήμου Χανίων.",
            },
        },
    )


OPERATIONS: dict[str, Callable[[Load, httpx.Client, httpx.Client, bytes], httpx.Response]] = {
    "register": register,
    "search": search,
    "download": download,
    "assign": assign,
    "complete": complete,
    "certificate": certificate,
}


def client(load: Load, until: float, docs: list[bytes]) -> None:
    """One client: operations chosen by :data:`MIX` until ``until``."""

    def connect(token: str) -> httpx.Client:
        return httpx.Client(
            base_url=load.base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    names, weights = list(MIX), list(MIX.values())
    with connect(load.admin) as admin, connect(load.staff) as staff:
        while time.monotonic() < until:
            name = random.choices(names, weights)[0]
            with load.lock:  # what depends on earlier work waits until there is some
                if (name == "download" and not load.files) or (
                    name == "assign" and not load.unassigned
                ):
                    name = "register"
                elif name == "complete" and not load.assigned:
                    name = "search"
                if name == "register" and not docs:
                    name = "search"  # out of prepared documents: a longer run needs more
                doc = docs.pop() if name == "register" else b""
            started = time.perf_counter()
            try:
                answer = OPERATIONS[name](load, admin, staff, doc)
                problem = (
                    None
                    if answer.status_code < 400
                    else f"{answer.status_code} {answer.text[:200]}"
                )
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            took = time.perf_counter() - started
            with load.lock:
                load.latencies[name].append((time.monotonic(), took))
                if problem is not None:
                    load.errors.append(f"{name}: {problem}")


def tree_rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` and its descendants, in MB."""
    total = 0
    for current in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100)[p - 1] * 1000 if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=300, help="seconds of load")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    # Distinct documents for registrations at up to 50 /s (they are a third of the mix).
    docs = documents(args.duration * 50)
    with tempfile.TemporaryDirectory(prefix="eprotocol-soak-") as tmp:
        root = Path(tmp)
        env = clean_env()
        proc, base = start_server(root, env, "--admin-password", PASSWORD, workers=None)
        try:
            with open_archive(root, env) as archive:
                archive.add_department("DIOIK", "Διεύθυνση Διοικητικών Υπηρεσιών", by="admin")
                archive.add_department("DIOIK.KEP", "Τμήμα ΚΕΠ", parent="DIOIK", by="admin")
                archive.add_user(
                    STAFF, "Μαρία Κ.", department="DIOIK.KEP", roles=[Role.STAFF], by="admin"
                )
                archive.set_password(STAFF, PASSWORD, by="admin")
            load = Load(base, login(base, "admin", PASSWORD), login(base, STAFF, PASSWORD))
            started = time.monotonic()
            until = started + args.duration
            rss: list[tuple[float, float]] = []
            clients = [
                threading.Thread(target=client, args=(load, until, docs))
                for _ in range(args.clients)
            ]
            for thread in clients:
                thread.start()
            while any(t.is_alive() for t in clients):
                rss.append((time.monotonic() - started, tree_rss_mb(proc.pid)))
                time.sleep(1)
        finally:
            stop_server(proc, timeout=60)
    print_report(load, rss, started, args)


def print_report(
    load: Load, rss: list[tuple[float, float]], started: float, args: argparse.Namespace
) -> None:
    """Print the figures of the run."""
    total = sum(len(v) for v in load.latencies.values())
    rate = total / args.duration
    print(f"{args.duration} s, {args.clients} clients: {total} operations, {rate:.1f} /s")
    print(
        f"{'operation':<12} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        "   p50 first / last minute"
    )
    for name in MIX:
        took = [t for _, t in load.latencies.get(name, [])]
        opening = [t for end, t in load.latencies.get(name, []) if end - started < 60]
        closing = [
            t for end, t in load.latencies.get(name, []) if end - started >= args.duration - 60
        ]
        print(
            f"{name:<12} {len(took):>6} {percentile(took, 50):>8.0f}"
            f" {percentile(took, 95):>8.0f} {percentile(took, 99):>8.0f}"
            f"   {percentile(opening, 50):>5.0f} / {percentile(closing, 50):.0f}"
        )
    ended = [end for runs in load.latencies.values() for end, _ in runs]
    first = sum(1 for t in ended if t - started < 60)
    last = sum(1 for t in ended if t - started >= args.duration - 60)
    ratio = last / first if first else 0.0
    verdict = "OK" if ratio >= THROUGHPUT_GOAL else "BELOW GOAL"
    print(f"throughput, last minute / first minute: {last} / {first} = {ratio:.2f} ({verdict})")
    early = max((mb for t, mb in rss if t < 60), default=0.0)
    peak = max((mb for _, mb in rss), default=0.0)
    print(f"server RSS: peak {peak:.0f} MB (first minute {early:.0f} MB)")
    print(f"errors: {len(load.errors)} (goal 0)")
    for error in load.errors[:10]:
        print("  " + error)


if __name__ == "__main__":
    main()
