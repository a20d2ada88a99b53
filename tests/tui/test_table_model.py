"""The table's model without a terminal: the filter, the sort, slices, lookups, marks,
patches and the count line agree with the same done on a plain list of records."""

from __future__ import annotations

import ast
import inspect

from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text

from store import InvalidRecord
from tui.widgets.packed_rows import Chunk
from tui.widgets.table_model import Flagged, TableModel, next_sort, record

COLUMNS = ("key", "name", "n")

names = st.text(alphabet="abcAB ", max_size=5)


@st.composite
def users(draw: st.DrawFn) -> list[tuple]:
    """Records as the users view makes them: unique keys, (key, name, n), the search text
    beginning with the key and a tab."""
    keys = draw(st.lists(st.text(alphabet="abcxyz0", min_size=1, max_size=4), unique=True, max_size=30))
    return [record(k, (k, name, n), f"{k}\t{name}".lower())
            for k in keys for name, n in [(draw(names), draw(st.integers(-5, 5)))]]


def model_of(records: list[tuple], parts: int = 1) -> TableModel:
    m = TableModel("users", COLUMNS)
    step = max(1, len(records) // parts)
    chunks = [Chunk.of(records[i:i + step]) for i in range(0, len(records), step)]
    m.set_chunks(chunks)
    return m


def test_nothing_loaded_says_loading_or_why_it_failed():
    m = TableModel("users", COLUMNS)
    assert m.count_line(0) == "loading users…" and m.loaded is False and len(m) == 0
    assert m.count_line(0, failed="") == "could not load users"
    assert m.count_line(0, failed="no such file") == "could not load users: no such file"


@given(users(), st.integers(1, 4))
def test_rows_come_back_in_order_in_any_number_of_parts(records, parts):
    m = model_of(records, parts)
    assert list(m.slice(0, len(records) + 1)) == records and len(m) == len(records)
    for i, r in enumerate(records):
        assert m.index_of(r[0], near=len(records) - i) == i and m.data_of(r[0]) == r[1]
    assert m.index_of("missing") == -1 and m.data_of("missing") is None


@given(users(), st.text(alphabet="abc", max_size=3))
def test_the_filter_matches_what_a_list_comprehension_does(records, needle):
    m = model_of(records)
    m.set_filter(needle)
    expected = [r for r in records if needle.strip().lower() in r[2]]
    assert list(m.slice(0, len(records))) == expected
    # typing on narrows the previous matches: the same as filtering afresh
    m.set_filter(needle + "a")
    assert list(m.slice(0, len(records))) == [r for r in records if (needle + "a").strip().lower() in r[2]]


@given(users(), st.integers(0, 2), st.booleans())
def test_sort_by_a_column_with_a_key_or_by_the_text(records, col, rev):
    for sort_keys in ((), (None, str.lower, None)):
        m = TableModel("users", COLUMNS, sort_keys=[(lambda d, f=f: f(d[1])) if f else None for f in sort_keys])
        m.set_chunks([Chunk.of(records)])
        m.sort = (col, rev)
        m.show_order(m.sorted(m.rows, m.sort))
        by = (lambda r: r[1][1].lower()) if sort_keys and col == 1 else (lambda r: str(r[1][col]))
        assert list(m.slice(0, len(records))) == sorted(records, key=by, reverse=rev)


def test_the_sort_cycles_through_the_columns_then_back_to_the_screens_order():
    seen, sort = [], None
    for _ in range(7):
        sort = next_sort(sort, 3)
        seen.append(sort)
    assert seen == [(0, False), (0, True), (1, False), (1, True), (2, False), (2, True), None]


def test_flagged_rows_stay_last_and_are_counted():
    records = [record(k, (k, n, 1), f"{k}\t{n}") for k, n in (("b", "x"), ("a", "y"))]
    m = TableModel("users", COLUMNS)
    m.set_chunks([Chunk.of(records)], invalid=[InvalidRecord("users", "zz", "bad json")])
    m.sort = (0, False)
    m.set_chunks([Chunk.of(records)], invalid=[InvalidRecord("users", "zz", "bad json")])
    assert [r[0] for r in m.slice(0, 5)] == ["a", "b", "zz"]
    flagged = m.slice(2, 1)[0][1]
    assert type(flagged) is Flagged and flagged.cells[:2] == ("zz", "bad json")
    assert [c.plain if isinstance(c, Text) else c for c in m.cells_of(flagged)] == ["zz", "bad json", "INVALID"]
    assert m.count_line(2) == "row 3 of 3 users  (1 invalid stored record(s), flagged)  sorted by key"
    assert m.holds("a") and not m.holds("zz")  # a flagged row is no user to act on


def test_the_count_line_says_where_how_many_and_how():
    records = [record(f"u{i}", (f"u{i}", f"n{i}", i), f"u{i}\tn{i}") for i in range(12)]
    m = model_of(records)
    assert m.count_line(0, complete=False) == "row 1 of 12 users so far, loading…"
    m.set_filter("u1")  # u1, u10, u11
    m.toggle_mark("u10")
    m.sort = (1, True)
    assert m.count_line(1, sorting=True) == ("row 2 of 3 matching (of 12) users  ·  1 marked  filter: 'u1'"
                                             "  sorting by name, reversed…")
    m.set_filter("nothing")
    assert m.count_line(0).startswith("0 matching (of 12) users")


def test_marks_outlive_a_reload_while_their_rows_exist():
    records = [record(k, (k, k, 0), f"{k}\t{k}") for k in "abc"]
    m = model_of(records)
    m.toggle_mark("a")
    m.toggle_mark("c")
    m.toggle_mark("a")
    assert m.marked == {"c"} and m.is_marked("c")
    m.set_chunks([Chunk.of(records[:2])])
    assert m.marked == set()


def test_patches_show_newer_rows_until_the_next_load():
    records = [record(k, (k, "old", 0), f"{k}\told") for k in "abcd"]
    m = model_of(records)
    shown = m.slice(0, 2)  # a and b drawn
    newer = [record(k, (k, "new", 0), f"{k}\tnew") for k in "bd"]
    assert m.patch(newer, shown) == 1  # d is not drawn: left for the next load
    assert [r[1][1] for r in m.slice(0, 4)] == ["old", "new", "old", "old"]
    shown = m.slice(0, 2)
    assert m.patch(newer, shown) == 0  # nothing new: b is drawn new already
    assert m.patch(newer, shown, anywhere=True) == 1  # a watch: d changed wherever it is
    assert m.data_of("d") == ("d", "new", 0)
    assert [r[0] for r in m.plain_rows()] == list("abcd") and list(m.plain_rows())[3][1] == "new"
    m.set_chunks([Chunk.of(records)])
    assert [r[1][1] for r in m.slice(0, 4)] == ["old"] * 4


def test_removed_columns_take_their_sort_with_them():
    m = TableModel("members", COLUMNS)
    m.sort = (2, False)
    m.set_columns(COLUMNS[:2])
    assert m.sort is None and m.columns == COLUMNS[:2]


def test_the_model_needs_no_terminal():
    """Neither the model nor the rows it packs import Textual."""
    import tui.widgets.packed_rows
    import tui.widgets.table_model

    for module in (tui.widgets.table_model, tui.widgets.packed_rows):
        tree = ast.parse(inspect.getsource(module))
        imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not any(name.split(".")[0] == "textual" for name in imported), (module, imported)
