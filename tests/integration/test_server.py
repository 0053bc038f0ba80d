"""`eprotocol serve` as a real server process on 127.0.0.1."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import serve


def _get(url: str) -> tuple[int, str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local test server
            return response.status, response.headers["content-type"], json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, err.headers["content-type"], json.load(err)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPROTOCOL_")}
    yield from serve(tmp_path, env)


def test_health_ready_and_openapi(server: str) -> None:
    assert _get(server + "/health")[::2] == (200, {"status": "ok"})
    assert _get(server + "/ready")[::2] == (200, {"status": "ready"})
    status, _, schema = _get(server + "/schema/openapi.json")
    assert status == 200
    assert {"/health", "/ready"} <= set(schema["paths"])


def test_unknown_path_is_a_problem(server: str) -> None:
    status, content_type, body = _get(server + "/no/such/thing")
    assert status == 404
    assert content_type == "application/problem+json"
    assert body["status"] == 404


def test_storage_outage_makes_ready_a_503_problem(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPROTOCOL_")}
    servers = serve(tmp_path, env)
    base = next(servers)
    try:
        blobs = tmp_path / "var" / "blobs"
        blobs.rename(tmp_path / "var" / "moved")
        blobs.write_text("not a directory")  # the store can no longer create its files
        status, content_type, body = _get(base + "/ready")
        assert status == 503
        assert content_type == "application/problem+json"
        assert body["type"].endswith("/storage-unavailable")
        assert "Traceback" not in json.dumps(body)
    finally:
        servers.close()
