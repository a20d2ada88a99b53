"""Opening the TUI: `membership-admin --db PATH | --nats-url URL` and `demo`. (issue 5 fills this in)"""

from __future__ import annotations

import argparse

from .common import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("demo", help="seed a demo database and open the TUI on it").set_defaults(func=demo)


def open_tui(args: argparse.Namespace) -> int:
    raise CommandError("the TUI is not built yet")


def demo(args: argparse.Namespace) -> int:
    raise CommandError("demo is not built yet")
