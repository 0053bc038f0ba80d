"""The running server against its own OpenAPI document, with schemathesis (bounded run).

Every operation gets generated requests — valid and invalid — sent as the
administrator to a real ``eprotocol serve`` on 127.0.0.1; no answer may be a
5xx, and every answer must match the document (status codes, content types,
response schemas).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support import clean_env, serve

PASSWORD = "fuzz-password-1"


@dataclass(frozen=True)
class Server:
    base: str
    token: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp_path: Path = tmp_path_factory.mktemp("fuzz")
    env = clean_env()
    env["EPROTOCOL_MAX_UPLOAD_MB"] = "2"
    servers = serve(tmp_path, env, "--admin-password", PASSWORD)
    base = next(servers)
    try:
        token = httpx.post(
            base + "/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
        ).json()["access_token"]
        yield Server(base, token)
    finally:
        servers.close()


def test_the_server_keeps_to_its_openapi_document(server: Server) -> None:
    schema = schemathesis.openapi.from_url(server.base + "/schema/openapi.json")
    headers = {"Authorization": f"Bearer {server.token}"}
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case[Any]) -> None:
            # Semantic rules no schema can state (an ΑΦΜ's check digit, an opaque paging
            # cursor, a verification code nobody issued) refuse some schema-valid input
            # with 422; everything else is checked.
            case.call_and_validate(
                base_url=server.base,
                headers=headers,
                timeout=30,
                excluded_checks=[positive_data_acceptance],
            )

        check()
