"""The README's configuration table lists every setting, and the docs it links to exist."""

from __future__ import annotations

import re
from pathlib import Path

from twinspace.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(r"^\| `TWINSPACE_([A-Z_]+)` \|", readme, re.MULTILINE))
    expected = {name.upper() for name in Settings.model_fields}
    assert documented == expected


def test_readme_quick_start_is_the_two_scripts() -> None:
    readme = (REPO / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^(\./\S+)", quick, re.MULTILINE)
    assert commands == ["./scripts/demo", "./scripts/test"]
    for command in commands:
        assert (REPO / command).stat().st_mode & 0o111


def test_cli_and_demo_pages_exist() -> None:
    for page in ("docs/cli.md", "docs/demo.md"):
        assert (REPO / page).is_file()
