"""Store.iter_user_rows: the users as plain tuples in parts, in key order across them, every user and every
invalid record once (a SQLite page is a key range: NULL keys come with the first)."""

from __future__ import annotations

import sqlite3

from store import SqliteSpec, open_store
from store.sqlite_file import create_database


async def test_parts_cover_every_user_once_in_order(store):
    for i in range(23):
        await store.add_user(f"u{i:02d}")
    parts = [(users, bad) async for users, bad in store.iter_user_rows(first=5, page=4)]
    rows = [u for users, _ in parts for u in users]
    keys = [r[0] for r in rows]
    assert rows == [u.row for u in await store.list_users()] and keys == sorted(keys)
    # plain str and int in exact tuples: the garbage collector can stop tracking them
    assert all(type(r) is tuple and all(type(v) in (str, int, type(None)) for v in r) for r in rows)
    assert all(users for users, _ in parts) and not any(bad for _, bad in parts)
    if store.label.startswith("sqlite:"):
        assert [len(u) for u, _ in parts] == [5, 4, 4, 4, 4, 2]  # first, then page by page


def database_with(tmp_path, *users: tuple) -> str:
    """A schema-v1 file with these users rows written as they are, its CHECKs off (as a
    careless writer would): rows that break the rules."""
    path = tmp_path / "m.sqlite"
    create_database(str(path))
    con = sqlite3.connect(path)
    with con:
        con.execute("PRAGMA ignore_check_constraints = ON")
        con.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)", users)
    con.close()
    return str(path)


async def test_invalid_rows_and_null_keys_are_in_a_part(tmp_path, clock):
    path = database_with(tmp_path, *[(f"k{i}", "", "user", "active", 1, None) for i in range(10)],
                         (None, "no key", "user", "active", 1, None), ("k5x", "", "boss", "active", 1, None))
    async with await open_store(SqliteSpec(path), clock=clock) as s:
        invalid: list = []
        whole = await s.list_users(invalid=invalid)
        parts = [(u, b) async for u, b in s.iter_user_rows(first=3, page=3)]
    assert [u[0] for users, _ in parts for u in users] == [u.key for u in whole]
    assert sorted(r.reason for _, bad in parts for r in bad) == sorted(r.reason for r in invalid)
    assert len(invalid) == 2


async def test_user_rows_and_count_are_what_a_view_re_reads_on_a_change(store):
    for i in range(12):
        await store.add_user(f"u{i:02d}", f"name {i}")
    await store.revoke_user("u03")
    rows, bad = await store.user_rows(["u05", "u03", "nobody", "u03", "u11"])
    assert [r[0] for r in rows] == ["u03", "u05", "u11"] and not bad  # key order, no duplicate
    assert rows == [(await store.get_user(k)).row for k in ("u03", "u05", "u11")]
    assert rows[0][3] == "revoked" and type(rows[0][3]) is str
    assert await store.count_users() == len(await store.list_users()) == 12


async def test_user_rows_names_a_broken_user(tmp_path, clock):
    path = database_with(tmp_path, ("ok", "", "user", "active", 1, None), ("boss", "", "boss", "active", 1, None))
    async with await open_store(SqliteSpec(path), clock=clock) as s:
        rows, bad = await s.user_rows(["ok", "boss"])
        assert [r[0] for r in rows] == ["ok"] and [b.key for b in bad] == ["boss"]
        assert await s.count_users() == 2  # the broken one too: the view shows it flagged


async def test_a_preview_is_some_users_at_once_where_the_first_part_is_the_whole_list(store):
    for i in range(30):
        await store.add_user(f"u{i:02d}", f"name {i}")
    await store.revoke_user("u07")
    preview = await store.preview_users(10)
    if store.label.startswith("sqlite:"):
        assert preview is None  # its first page comes in key order at once
        return
    # KV: the first 10 the bucket delivered, sorted by key, each as the whole read has it
    assert preview is not None and len(preview) == 10
    assert [r[0] for r in preview] == sorted(r[0] for r in preview)
    whole = {u.key: u.row for u in await store.list_users()}
    assert all(whole[r[0]] == r for r in preview)
    assert len(await store.preview_users(100)) == 30  # fewer than asked: all of them
