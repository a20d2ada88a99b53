"""One mapping from a store error to a command's line and exit status (SPEC section 7), used
by every command, the migration's failed event included."""

from __future__ import annotations

import pytest

from store import BadRecord, InvalidInput, Refused, StoreError, Unavailable
from store.errors import AlreadyExists, Conflict, NotFound
from tui.cli.common import CommandError, exit_code, run_async


@pytest.mark.parametrize(("error", "code", "line"), [
    (Unavailable("no quorum"), 3, "unavailable: no quorum"),
    (InvalidInput("bad key"), 2, "bad key"),
    (BadRecord("key 'a.b': not valid"), 1, "key 'a.b': not valid"),
    (Refused("read-only"), 4, "refused: read-only"),
    (NotFound("no user x"), 2, "no user x"),
    (AlreadyExists("x exists"), 2, "x exists"),
    (Conflict("changed meanwhile"), 2, "changed meanwhile"),
    (StoreError("other"), 2, "other"),
])
def test_every_store_error_has_one_exit_status(error, code, line):
    assert exit_code(error) == code

    async def fail():
        raise error

    with pytest.raises(CommandError) as raised:
        run_async(fail)
    assert (raised.value.code, str(raised.value)) == (code, line)
