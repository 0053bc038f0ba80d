"""A failed read of the Whoosh index is retried on a fresh searcher, then reported as ours."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from eprotocol import IndexUnavailable
from eprotocol.core.search import IndexDocument, SearchFilters, Visibility
from eprotocol.search.whoosh_index import WhooshIndex

ALL = Visibility(all_confidential=True)


@pytest.fixture
def index(tmp_path: Path) -> WhooshIndex:
    index = WhooshIndex(tmp_path / "index")
    document = IndexDocument(
        registration_id=1,
        book="general",
        year=2026,
        number=1,
        direction="incoming",
        status="active",
        local_time=datetime(2026, 3, 2, 10, 0),  # noqa: DTZ001 - wall-clock time
        subject="Αίτηση για κλάδεμα",
        correspondents="",
        classification="",
        departments=(),
        confidential=False,
    )
    index.upsert(lambda: [document])
    return index


def failing(index: WhooshIndex, times: int) -> list[int]:
    """Make the next ``times`` reads fail as a vanished segment file would; count the reads."""
    reads: list[int] = []
    real = index._search

    def read(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        if len(reads) <= times:
            raise FileNotFoundError("MAIN_x1.seg")
        return real(*args, **kwargs)

    index._search = read  # type: ignore[method-assign]
    return reads


def test_one_failed_read_is_retried(index: WhooshIndex) -> None:
    reads = failing(index, 1)
    assert index.search("κλάδεμα", ALL, SearchFilters(), limit=5, offset=0).total == 1
    assert len(reads) == 2


def test_a_read_that_keeps_failing_is_index_unavailable(index: WhooshIndex) -> None:
    failing(index, 2)
    with pytest.raises(IndexUnavailable):
        index.search("κλάδεμα", ALL, SearchFilters(), limit=5, offset=0)
