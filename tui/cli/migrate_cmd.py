"""`migrate-to-kv`, `diff`, `export-to-sqlite` (issue 4 fills this in)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    pass
