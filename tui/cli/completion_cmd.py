"""`completion bash|zsh|fish`: a shell completion script for every command and flag (shtab
writes it from the parser itself, so it cannot drift from the real options)."""

from __future__ import annotations

import argparse

import shtab

from .common import EXIT_OK

SHELLS = ("bash", "zsh", "fish")
INSTALL = {
    "bash": "membership-admin completion bash > ~/.local/share/bash-completion/completions/membership-admin",
    "zsh": "membership-admin completion zsh > \"${fpath[1]}/_membership-admin\"",
    "fish": "membership-admin completion fish > ~/.config/fish/completions/membership-admin.fish",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("completion", help="print a shell completion script",
                       description="Print a completion script for the shell, e.g.\n  "
                                   + "\n  ".join(INSTALL.values()),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("shell", choices=SHELLS, help="the shell: bash, zsh or fish")
    p.set_defaults(func=completion)


def completion(args: argparse.Namespace) -> int:
    from . import build_parser  # the whole command line, this command included

    print(shtab.complete(build_parser(), shell=args.shell))
    return EXIT_OK
