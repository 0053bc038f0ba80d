"""The library example of README.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eprotocol.env import SETTINGS
from tests.pdfs import make_pdf

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_library_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    (tmp_path / "αίτηση.pdf").write_bytes(make_pdf(1))
    exec(compile(blocks[0], str(README), "exec"), {"__name__": "readme"})  # noqa: S102
    assert (tmp_path / "var" / "eprotocol.db").is_file()


def test_readme_names_every_setting_and_no_other() -> None:
    """The settings table is what the server accepts: any other name is refused."""
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| variable | default | meaning |") :]
    table = table[: table.index("\n\n")]
    assert set(re.findall(r"`(EPROTOCOL_[A-Z0-9_]+)`", table)) == SETTINGS
