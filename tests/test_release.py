"""The release files agree with each other: the version is written once (pyproject.toml) and is
what `--version` prints and what CHANGELOG.md describes; the licence named is the one shipped."""

from __future__ import annotations

import re
import tomllib

from tests.helpers import ROOT, cli

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_version_printed_is_the_one_in_pyproject():
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout == f"membership-admin {PROJECT['version']}\n"


def test_the_changelog_has_a_section_for_this_version():
    versions = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", (ROOT / "CHANGELOG.md").read_text(),
                          re.MULTILINE)
    assert versions and versions[0] == PROJECT["version"], versions  # newest first


def test_the_licence_shipped_is_the_one_named():
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
