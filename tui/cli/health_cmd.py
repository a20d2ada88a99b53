"""`health` and the KV side of `authorize` (issue 3 fills this in)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    pass
