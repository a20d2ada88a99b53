"""The packed rows give back every record exactly as given (values and their types), and
the filter, the lookups and the positions agree with the plain list of records."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tui.widgets.packed_rows import Chunk, Codes, KeysInTexts, Picked, Rows, Strings, narrowed, position

keys = st.text(st.characters(blacklist_characters="\t", codec="utf-8"), min_size=1, max_size=8)
values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=6),
                   st.integers(min_value=2**63, max_value=2**70))


@st.composite
def records(draw: st.DrawFn) -> list[tuple]:
    """Records as a screen makes them: unique keys, data tuples of one width (or not tuples
    at all), a search text that begins with the key and a tab (or not)."""
    ks = draw(st.lists(keys, unique=True, max_size=40))
    width = draw(st.integers(0, 4))
    key_first = draw(st.booleans())
    tupled = draw(st.booleans())
    out = []
    for k in ks:
        data = tuple(draw(values) for _ in range(width))
        if draw(st.booleans()):
            data = (k, *data)[:max(width, 1)] if width else data
        search = (f"{k}\t" if key_first else "") + draw(st.text(max_size=6)).lower()
        out.append((k, data if tupled else list(data), search))
    return out


def same(a: object, b: object) -> bool:
    """Equal, and of the same types all the way down (a flag is not the number 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    return a == b


@given(records())
def test_a_chunk_gives_back_every_record_as_given(recs):
    chunk = Chunk.of(recs)
    assert len(chunk) == len(recs)
    assert all(same(chunk.record(i), r) for i, r in enumerate(recs))
    assert all(same(a, b) for a, b in zip(chunk.records(), recs, strict=True))
    assert all(same(a, r[1]) for a, r in zip(chunk.datas(), recs, strict=True))
    for i, r in enumerate(recs):
        assert chunk.find(r[0]) == i
    assert chunk.find("\tnone") == -1


@given(st.lists(records(), max_size=4), st.text(max_size=3))
def test_rows_filter_and_find_as_the_plain_list_does(parts, needle):
    seen: set[str] = set()
    parts = [[r for r in p if not (r[0] in seen or seen.add(r[0]))] for p in parts]  # keys unique overall
    plain = [r for p in parts for r in p]
    flagged = [("bad\tkey", ("x",), "bad\tkey\tinvalid")]
    rows = Rows(map(Chunk.of, parts), flagged)
    assert len(rows) == len(plain) + 1 and list(rows) == plain + flagged
    assert rows[-1] == flagged[0] and rows[1:3] == tuple((plain + flagged)[1:3])
    found = narrowed(rows, needle)
    assert list(found) == [r for r in plain + flagged if needle in r[2]]
    # narrowing the narrowed: what typing on does
    again = narrowed(found, needle + "a")
    assert list(again) == [r for r in plain + flagged if needle + "a" in r[2]]
    for i, r in enumerate(plain):
        assert rows.find(r[0]) == i and rows.index_of(r[0]) == i
    assert rows.find("bad\tkey") == -1 and rows.index_of("bad\tkey") == len(plain)
    backwards = Picked(rows, reversed(range(len(rows))))
    assert list(backwards) == (plain + flagged)[::-1]
    assert all(backwards[position(backwards, i)] == rows[i] for i in range(len(rows)))
    assert position(found, len(rows)) == -1


def test_columns_are_packed_as_their_values_allow():
    n = 1000
    recs = [(f"{i:08x}", (f"{i:08x}", f"Name {i}", "user" if i % 3 else "admin", 1_700_000_000 + i, None),
             f"{i:08x}\tname {i}") for i in range(n)]
    chunk = Chunk.of(recs)
    assert isinstance(chunk.keys, KeysInTexts)  # the key is not kept twice
    assert chunk.fields is not None
    key, name, role, added, revoked = chunk.fields
    assert key is chunk.keys and isinstance(name, Strings) and isinstance(role, Codes)
    assert isinstance(revoked, Codes) and list(revoked) == [None] * n
    assert list(added) == [1_700_000_000 + i for i in range(n)]
    assert chunk.in_key_order and chunk.find("000003e7") == 999



def test_a_replaced_field_leaves_the_chunk_and_the_other_fields_as_they_were():
    recs = [(f"r{i}", (f"r{i}", f"room {i}", i % 2 == 0, None), f"r{i}\troom {i}") for i in range(300)]
    chunk = Chunk.of(recs)
    counted = chunk.replaced(3, list(range(300)))
    assert [r[1] for r in counted.records()] == [(*d[:3], i) for i, (_, d, _) in enumerate(recs)]
    assert list(chunk.records()) == recs  # the chunk it came from is unchanged
    assert counted.fields is not None and chunk.fields is not None
    assert counted.fields[:3] == chunk.fields[:3] and counted.texts is chunk.texts  # shared
