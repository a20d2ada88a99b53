"""Opening the TUI fails fast: a bad file or an unreachable NATS is one stderr line and an
exit status, before any TUI starts; `demo --seed-only` makes the demo database."""

from __future__ import annotations

import asyncio
import sqlite3

from store import SqliteSpec, open_store
from store.dev.demo import REVOKED, demo_key
from tests.helpers import SIZE, demo_file, make_app, text_of, until
from tui.cli import main
from tui.cli.app_cmd import NO_SERVER
from tui.screens.migration import MigrationScreen


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_missing_database_is_exit_2(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "nope.sqlite")]) == 2
    assert "nope.sqlite" in one_line(capsys)
    assert not (tmp_path / "nope.sqlite").exists()  # never created by accident


def test_foreign_file_is_exit_2_and_left_untouched(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"not a database\n")
    assert main(["--db", str(path)]) == 2
    one_line(capsys)
    assert path.read_bytes() == b"not a database\n"


def test_wrong_schema_version_is_exit_2(tmp_path, capsys):
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 7")
    con.close()
    assert main(["--db", str(path)]) == 2
    one_line(capsys)


def test_unreachable_nats_is_exit_3(capsys):
    assert main(["--nats-url", "nats://127.0.0.1:1", "--op-timeout", "0.5"]) == 3
    one_line(capsys)


def test_no_backend_named_is_exit_2(tmp_path, capsys):
    assert main(["--read-only"]) == 2  # no backend named
    one_line(capsys)


def test_demo_seed_only_makes_a_fresh_demo_database(tmp_path, capsys):
    assert main(["demo", "--dir", str(tmp_path / "d"), "--seed-only"]) == 0
    path = tmp_path / "d" / "demo.sqlite"
    assert str(path) in capsys.readouterr().err
    assert main(["demo", "--dir", str(tmp_path / "d"), "--seed-only"]) == 0  # replaced, not refused

    async def check():
        store = await open_store(SqliteSpec(str(path), read_only=True))
        try:
            snap = await store.export_snapshot()
            revoked = await store.get_user(demo_key(REVOKED))
        finally:
            await store.close()
        return snap, revoked

    snap, revoked = asyncio.run(check())
    assert (len(snap.rooms), len(snap.users)) == (5, 8) and revoked.status == "revoked"
    assert any(not r.encrypted and r.epoch == 0 for r in snap.rooms)
    assert max(r.epoch for r in snap.rooms) >= 4


def test_demo_dir_defaults_to_xdg_data_home(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert main(["demo", "--seed-only"]) == 0
    assert (tmp_path / "xdg" / "membership-admin" / "demo.sqlite").exists()


def write_settings(home, context: str, url: str, toml: str) -> None:
    (home / "nats" / "context").mkdir(parents=True)
    (home / "nats" / "context" / f"{context}.json").write_text(f'{{"url": "{url}"}}')
    (home / "nats" / "context.txt").write_text(context)
    (home / "membership-admin").mkdir()
    (home / "membership-admin" / "config.toml").write_text(toml)


def test_the_selected_context_opens_with_its_settings(tmp_path, monkeypatch):
    """`membership-admin` alone opens natscli's selected context; config.toml gives its
    header and makes it read-only unless --write."""
    from tui.cli import build_parser
    from tui.cli.app_cmd import _header, _specs

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    write_settings(tmp_path, "prod", "nats://127.0.0.1:4222",
                   '[contexts.prod]\nread_only = true\nlabel = "PRODUCTION"\ncolor = "darkred"\n')
    spec, target = _specs(build_parser().parse_args([]))
    assert (spec.context, spec.read_only, target) == ("prod", True, None)
    assert (_header(spec).label, _header(spec).color) == ("PRODUCTION", "darkred")
    spec, _ = _specs(build_parser().parse_args(["--write"]))
    assert spec.read_only is False


def test_an_unknown_header_colour_is_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    write_settings(tmp_path, "prod", "nats://127.0.0.1:1", '[contexts.prod]\ncolor = "blurple"\n')
    assert main([]) == 2
    assert "unknown colour 'blurple'" in one_line(capsys)


async def test_demo_without_nats_server_says_why_on_the_migration_screen(tmp_path):
    """The line printed before the TUI starts is hidden by it: the screen itself says it."""
    app = make_app(demo_file(tmp_path / "demo.sqlite"), migration_note=NO_SERVER)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: isinstance(app.screen, MigrationScreen), what="screen 3")
        status = " ".join(text_of(app.screen.query_one("#migration-status")).split())
        assert "nats-server was not found" in status and "membership-admin[demo]" in status
        # a target typed by hand is still taken: the note does not stop the screen
        await pilot.press("m")
        await pilot.pause()
        assert any("no target" in n for n in app.notices)
