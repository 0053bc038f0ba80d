"""The throttles of logins and public file checks: a sliding window per key, bounded in size."""

from __future__ import annotations

import time

import pytest

from eprotocol.api import auth
from eprotocol.api.auth import TOO_MANY_CHECKS, Throttle
from eprotocol.core.errors import Throttled


class Clock:
    """``time.monotonic`` as the test sets it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock)
    return clock


def test_a_key_is_refused_beyond_its_attempts_until_they_leave_the_window(clock: Clock) -> None:
    throttle = Throttle(TOO_MANY_CHECKS, attempts=3, window_seconds=600)
    for _ in range(3):
        throttle.check("203.0.113.7")
        throttle.count("203.0.113.7")
        clock.now += 100

    with pytest.raises(Throttled) as refused:
        throttle.check("203.0.113.7")
    # The first attempt leaves the window 600 s after it was made, 300 s from now.
    assert refused.value.retry_after == 301
    assert refused.value.message == (
        "too many files checked from this address; try again in 301 seconds"
    )
    throttle.check("203.0.113.8")  # another address is not held back

    clock.now += 300
    throttle.check("203.0.113.7")


def test_a_forgotten_key_starts_again(clock: Clock) -> None:
    throttle = Throttle(TOO_MANY_CHECKS, attempts=1)
    throttle.count("maria")
    with pytest.raises(Throttled):
        throttle.check("maria")
    throttle.forget("maria")
    throttle.check("maria")


def test_keys_with_nothing_left_in_the_window_are_forgotten(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "_SWEEP_AT", 8)
    throttle = Throttle(TOO_MANY_CHECKS, attempts=5, window_seconds=60)
    for n in range(7):
        throttle.count(f"198.51.100.{n}")
    assert len(throttle) == 7

    clock.now += 61
    throttle.count("198.51.100.200")  # the eighth key: the seven old ones go
    assert len(throttle) == 1
    for n in range(7):
        throttle.count(f"198.51.100.{n}")  # and come back when counted again
    assert len(throttle) == 8
