"""The threat model is written where a reviewer looks (SPEC section 10, "what the trail
proves"): the README's Security section names the assets, the actors, what the admin's
credentials can do without the tool, and what the operator does instead; SECURITY.md says
how to report a vulnerability."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def security_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^## Security\n(.*?)^## ", text, re.S | re.M)
    assert m, "README.md has no Security section"
    return " ".join(m.group(1).split())


def test_the_readme_has_a_checkable_threat_model():
    section = security_section()
    for asset in ("allowlist", "sealed keys", "audit trail"):
        assert asset in section, asset
    for actor in ("| viewer |", "| admin |", "| migrator |", "| daemon |", "| a local user |",
                  "| a network attacker |"):
        assert actor in section, actor
    # what it does not defend: the trail is written by the client
    assert "forged event" in section and "Nats-Rollup: sub" in section
    assert "separate" in section or "account of its own" in section
    assert "short-lived credentials" in section
    # each test the section names exists
    for name in re.findall(r"`(?:tests/e2e/)?(test_\w+\.py)`", section):
        assert list(ROOT.glob(f"tests/**/{name}")), name


def test_security_md_says_how_to_report():
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    assert "privately" in text and "Report a vulnerability" in text
