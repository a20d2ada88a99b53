"""A reviewed bulk change in a real terminal (SPEC 11): mark two users, r shows the plan with
their names and keys, w saves it and nothing changes; `membership-admin apply` of the saved
file from the command line revokes them, with the plan's id in their audit events."""

from __future__ import annotations

import json
import shlex
import sqlite3
import subprocess

from store.dev.demo import demo_key
from tests.e2e.test_tmux import demo_db, quit_app
from tests.helpers import EXE, cli_env


def statuses(db) -> dict[str, str]:
    con = sqlite3.connect(db)
    try:
        return dict(con.execute("SELECT key, status FROM users").fetchall())
    finally:
        con.close()


def test_mark_see_the_plan_save_it_with_w_and_apply_it(tmp_path, tmux):
    db = demo_db(tmp_path)
    before = statuses(db)
    ada, brian = demo_key("ada"), demo_key("brian")
    done = tmp_path / "exit-status"
    # the app runs in tmp_path: w saves the plan there
    tmux.start(f"cd {shlex.quote(str(tmp_path))} && {shlex.quote(str(EXE))} --db {shlex.quote(str(db))}; "
               f"echo $? > {shlex.quote(str(done))}")
    tmux.wait_for("of 5 rooms")
    tmux.keys("2")
    tmux.wait_for("row 1 of 8 users")
    tmux.keys("Space", "Space")  # ada, then brian
    tmux.wait_for("2 marked")
    tmux.keys("r")
    screen = tmux.wait_for("Revoke 2 marked user(s)?", "Save plan (w)")
    assert "2 to revoke, 0 already revoked" in screen
    assert f"{ada}" in screen and "Ada Lovelace" in screen and f"{brian}" in screen and "Brian Kernighan" in screen
    tmux.keys("w")
    tmux.wait_for("plan saved to")
    quit_app(tmux, done)
    assert statuses(db) == before  # saving changed nothing
    saved = list(tmp_path.glob("plan-revoke-*.json"))
    assert len(saved) == 1
    plan = json.loads(saved[0].read_text())
    assert [u["key"] for u in plan["users"]] == [ada, brian]

    proc = subprocess.run([str(EXE), "apply", str(saved[0]), "--db", str(db), "--yes"], capture_output=True,
                          text=True, timeout=60, env=cli_env(), stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert f"revoked {ada} (Ada Lovelace)" in proc.stdout and f"revoked {brian} (Brian Kernighan)" in proc.stdout
    after = statuses(db)
    assert after[ada] == after[brian] == "revoked"
    assert {k: s for k, s in after.items() if k not in (ada, brian)} == {
        k: s for k, s in before.items() if k not in (ada, brian)}
    con = sqlite3.connect(db)
    try:
        planned = con.execute("SELECT json_extract(event, '$.target') FROM admin_audit "
                              "WHERE json_extract(event, '$.plan') = ?", (plan["id"],)).fetchall()
    finally:
        con.close()
    assert sorted(t for (t,) in planned) == sorted([ada, brian])
