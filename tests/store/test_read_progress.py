"""Store.read_progress: how far an export's bulk read has come, per bucket, for the CLI's
progress display (tui.cli.progress)."""

from __future__ import annotations

import asyncio

from store import NatsSpec, SqliteSpec, open_store
from store.layout import BUCKETS
from store.migrate import run_migration
from tests.e2e.test_cli_migrate import make_db


async def test_kv_export_reports_each_bucket_as_it_is_read(tmp_path, nats_server, bucket_prefix):
    db = tmp_path / "m.sqlite"
    make_db(db, rooms=2000, per_room=8, epochs=2)  # ~70k records: a read that takes a moment
    target = NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, replicas=1)
    report = await run_migration(SqliteSpec(str(db)), target, backup=False)
    kv = await open_store(NatsSpec(nats_server.url, bucket_prefix=bucket_prefix, read_only=True))
    try:
        assert kv.read_progress() == {}  # nothing read yet
        export = asyncio.ensure_future(kv.export_snapshot())
        seen: list[dict[str, tuple[int, int]]] = []
        while not export.done():
            seen.append(kv.read_progress())
            await asyncio.sleep(0.01)
        await export
        final = kv.read_progress()
    finally:
        await kv.close()

    # at the end: every bucket read in full, by the migration's own counts
    assert final == {b: (report.counts[b], report.counts[b]) for b in BUCKETS}
    # on the way: some bucket part-read, and no count past its total
    assert any(0 < done < total for counts in seen for done, total in counts.values()), seen
    assert all(done <= total for counts in seen for done, total in counts.values())


async def test_sqlite_reports_nothing(tmp_path):
    db = tmp_path / "m.sqlite"
    make_db(db)
    s = await open_store(SqliteSpec(str(db), read_only=True))
    try:
        await s.export_snapshot()
        assert s.read_progress() == {}
    finally:
        await s.close()
