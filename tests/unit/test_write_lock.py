"""Writers of several processes queue on a file lock beside the SQLite database."""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

from eprotocol.core.database import Database


def test_a_writer_waits_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'archive.db'}")
    done = threading.Event()

    def write() -> None:
        with db.write() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        done.set()

    # The lock file is what another process (a server worker, the CLI) would hold.
    with (tmp_path / "archive.db.write-lock").open("ab") as other_process:
        fcntl.flock(other_process, fcntl.LOCK_EX)
        writer = threading.Thread(target=write)
        writer.start()
        assert not done.wait(0.5)  # queued behind the lock, not writing
        fcntl.flock(other_process, fcntl.LOCK_UN)
    assert done.wait(5)
    writer.join()
    db.dispose()


def test_reads_do_not_wait_for_the_write_lock(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'archive.db'}")
    with (tmp_path / "archive.db.write-lock").open("ab") as other_process:
        fcntl.flock(other_process, fcntl.LOCK_EX)
        started = time.monotonic()
        with db.read() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        assert time.monotonic() - started < 1
    db.dispose()
