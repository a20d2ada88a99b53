"""`init-db`, `seed`, `export`, `users ...`, `authorize` (issue 2 fills this in)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    pass
