"""Fixtures of the real-terminal tests."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers import Tmux


@pytest.fixture
def tmux(tmp_path):
    """A tmux server of the test's own (its own socket), killed afterwards."""
    if not shutil.which("tmux"):
        pytest.fail("tmux is needed for the real-terminal tests (the CI script installs it)")
    t = Tmux(tmp_path / "tmux.conf")
    yield t
    t.kill()
