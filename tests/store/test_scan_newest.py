"""A scan served by a replica that was catching up (a node just restarted) delivered a key's
older revision, then its newest: the rows held the key twice, and the migration's parity
called one user both different and only in KV (found by tests/store/test_lifecycle.py).
store.kv.scan keeps each key's last value, and drops a key deleted after it was read."""

from store.kv.scan import _newest


def test_each_key_once_with_its_last_value_and_deletes_after_it_win():
    rows = [("a", b"1"), ("b", b"1"), ("a", b"2"), ("c", b"1"), ("b", b"2")]
    # c deleted before its value came (an old marker): kept; b deleted after both values: gone
    deletes = [(3, "c"), (5, "b")]
    assert _newest(rows, deletes) == [("a", b"2"), ("c", b"1")]
    assert _newest([("a", b"1")], [(0, "a")]) == [("a", b"1")]
    assert _newest([("a", b"1")], [(1, "a")]) == []
