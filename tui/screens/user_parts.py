"""The users view's load: the store's pages of users made into the table's packed rows, in
parts that grow, a preview first where the store reads every user before the first page."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from store import InvalidRecord, Store, StoreError, UserRow

from ..widgets.packed_rows import Chunk


def user_search(row: UserRow) -> str:
    """What the filter searches: the key first (the table keeps it once), name, role, status."""
    key, name, role, status, _, _ = row
    return f"{key}\t{name}\t{role}\t{status}".lower()


def packed_users(rows: list[UserRow]) -> Chunk:
    """Users as the table's rows, packed; the UserRow itself is a row's data."""
    return Chunk(list(map(itemgetter(0), rows)), rows, list(map(user_search, rows)))


@dataclass(frozen=True)
class UserRows:
    """Users as the table's records, packed (off the UI thread), and the invalid stored ones."""

    chunks: list[Chunk]
    invalid: list[InvalidRecord]
    preview: bool = False  # users to show until the whole list replaces them (Store.preview_users)

    @classmethod
    def merged(cls, parts: list[UserRows]) -> UserRows:
        """The parts of a load as one, without its preview."""
        parts = [p for p in parts if not p.preview]
        return cls([c for p in parts for c in p.chunks], [r for p in parts for r in p.invalid])


async def _pages(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield first
    async for page in rest:
        yield page


async def user_parts(store: Store, preview: int) -> AsyncIterator[UserRows]:
    """The first page at once, then the store's pages grouped into parts that double in
    size (each part re-filters the view: few parts for a million users). The records are
    made and packed from each page as it comes, in a thread (the UI keeps answering
    meanwhile): no part is ever held as a list of records. preview: on a backend whose
    first part is the whole list (KV), this many users come first (0: none)."""
    pages = store.iter_user_rows()
    ahead = asyncio.ensure_future(anext(pages))  # the whole read begins now
    try:
        if preview:
            try:
                some = await store.preview_users(preview)
            except StoreError:
                some = None  # the whole read says what is wrong
            if some and not ahead.done():
                yield UserRows([await asyncio.to_thread(packed_users, some)], [], preview=True)
        first = await ahead
    except StopAsyncIteration:
        return
    finally:
        ahead.cancel()  # when this load was cancelled (done already: no effect)
    group, held, size = UserRows([], []), 0, 0
    async for rows, invalid in _pages(first, pages):
        group.chunks.append(await asyncio.to_thread(packed_users, rows))
        group.invalid.extend(invalid)
        held += len(rows)
        if held >= size:
            yield group
            group, held, size = UserRows([], []), 0, max(50_000, 2 * size)
    if group.chunks or group.invalid:
        yield group
