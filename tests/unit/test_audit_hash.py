"""The audit event hash covers every field of the event."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from eprotocol.core.audit import GENESIS_HASH, canonical_json, event_hash


@dataclasses.dataclass(frozen=True)
class Event:
    seq: int = 1
    occurred_at: datetime = datetime(2026, 1, 1, 10, tzinfo=UTC)
    actor: str = "clerk"
    action: str = "registration.created"
    target: str = "general:1/2026"
    details: str = '{"subject":"Θέμα"}'
    prev_hash: str = GENESIS_HASH


def test_hash_is_stable_and_time_zone_independent() -> None:
    base = event_hash(**dataclasses.asdict(Event()))
    athens = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert event_hash(**dataclasses.asdict(Event(occurred_at=athens))) == base
    assert len(base) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 2},
        {"occurred_at": datetime(2026, 1, 1, 10, 0, 0, 1, tzinfo=UTC)},
        {"actor": "clerk2"},
        {"action": "registration.cancelled"},
        {"target": "general:2/2026"},
        {"details": '{"subject":"Θέμα!"}'},
        {"prev_hash": "1" * 64},
    ],
)
def test_every_field_changes_the_hash(change: dict[str, Any]) -> None:
    base = event_hash(**dataclasses.asdict(Event()))
    assert event_hash(**dataclasses.asdict(dataclasses.replace(Event(), **change))) != base


def test_canonical_json_is_key_order_independent() -> None:
    assert canonical_json({"β": 1, "α": [1, 2]}) == canonical_json({"α": [1, 2], "β": 1})
    assert canonical_json({"α": "ά"}) == '{"α":"ά"}'
