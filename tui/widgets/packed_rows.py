"""A table's rows kept column by column: a million users in the memory a third of them took
as Python objects.

A record as Python objects (a tuple of its key, its data tuple, each value an object, and
its search text) costs some 500 bytes; packed here, some 150. The search text stays one str
a row (the filter's `in` on each, run in C by map and compress, is what keeps it fast); the
key is read back from the start of it when the screen put it there; the strings of a column
are joined into one str with its offsets; whole numbers go into an array; a column of few
values (a role, a status, a flag) keeps one byte a row. Records are made again only for the
rows drawn. The containers are tuples and arrays of untracked values, which the garbage
collector does not walk (a list of a million rows costs a UI stall each full collection).

Rows holds every record of a table (the valid in chunks, then the flagged invalid ones);
Picked is some of them in an order (a sort, a filter's matches), by index.
"""

from __future__ import annotations

import copy
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate, chain, compress, count, islice, repeat
from operator import contains, eq, getitem, itemgetter, le, methodcaller
from typing import Any, Protocol, overload

Record = tuple[str, Any, str]
KEY, DATA, SEARCH = 0, 1, 2

#: a column with at most this many distinct values keeps a byte a row
FEW = 256
_first_field = methodcaller("partition", "\t")
_head = itemgetter(0)


class Column(Protocol):
    def __len__(self) -> int: ...
    def __getitem__(self, i: int) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...


class Strings:
    """Strings joined into one, with where each ends."""

    __slots__ = ("ends", "text")

    def __init__(self, values: Sequence[str]) -> None:
        self.text = "".join(values)
        self.ends = array("I" if len(self.text) < 2**32 else "Q", accumulate(map(len, values)))

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i: int) -> str:
        return self.text[self.ends[i - 1] if i else 0:self.ends[i]]

    def __iter__(self) -> Iterator[str]:
        return map(self.text.__getitem__, map(slice, chain((0,), self.ends), self.ends))


_NUMBERS = frozenset({bool, int, float, complex})


def _typed(values: Sequence[Any], kinds: set[type]) -> Iterable[Any]:
    """The values as keys that tell types apart where they must: True == 1 and 1.0 == 1,
    but a flag must come back a flag, not a number (other values are their own keys)."""
    return zip(map(type, values), values, strict=True) if len(kinds & _NUMBERS) > 1 else values


class Codes:
    """A column of few distinct values: a byte a row, naming one of them."""

    __slots__ = ("codes", "values")

    def __init__(self, values: Sequence[Any], kinds: set[type], distinct: Iterable[Any]) -> None:
        """distinct: the set of _typed(values, kinds)."""
        index = {key: i for i, key in enumerate(distinct)}
        self.values = tuple(index) if len(kinds & _NUMBERS) <= 1 else tuple(v for _, v in index)
        self.codes = array("B", map(index.__getitem__, _typed(values, kinds)))

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i: int) -> Any:
        return self.values[self.codes[i]]

    def __iter__(self) -> Iterator[Any]:
        return map(self.values.__getitem__, self.codes)


class Objects:
    """Any values, as they are (a tuple: untracked when they all are)."""

    __slots__ = ("values",)
    values: Sequence[Any]

    def __init__(self, values: Iterable[Any]) -> None:
        self.values = tuple(values)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i: int) -> Any:
        return self.values[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values)


class KeysInTexts:
    """Keys read back from the search texts they begin (up to the first tab)."""

    __slots__ = ("texts",)

    def __init__(self, texts: tuple[str, ...]) -> None:
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> str:
        return self.texts[i].partition("\t")[0]

    def __iter__(self) -> Iterator[str]:
        return map(_head, map(_first_field, self.texts))


def packed(values: list[Any]) -> Column:
    """The smallest column that gives these values back as they are."""
    kinds = set(map(type, values))
    try:
        if len(set(values[:4 * FEW])) <= FEW and len(distinct := set(_typed(values, kinds))) <= FEW:
            return Codes(values, kinds, distinct)
    except TypeError:  # unhashable values
        return Objects(values)
    if kinds == {str}:
        return Strings(values)
    if kinds == {int} and min(values) >= -2**63 and max(values) < 2**63:
        return Ints(values)
    return Objects(values)


class Ints(Objects):
    """Whole numbers (exact ints: a bool or None goes elsewhere) in an array."""

    __slots__ = ()

    def __init__(self, values: Sequence[int]) -> None:
        self.values = array("q", values)


def _keys_begin(texts: Sequence[str], keys: Sequence[str]) -> bool:
    """Every text begins with its key and a tab, and no key holds a tab."""
    try:
        return (all(map(str.startswith, texts, keys))
                and all(map(eq, map(getitem, texts, map(len, keys)), repeat("\t")))
                and not any(map(contains, keys, repeat("\t"))))
    except IndexError:  # a text that is its key alone
        return False


class Chunk:
    """Records packed column by column. Made off the UI thread from a page of records:
    packing costs more than showing."""

    __slots__ = ("fields", "in_key_order", "keys", "texts", "whole")

    def __init__(self, keys: list[str], datas: list[Any], texts: list[str]) -> None:
        """The records' keys, data and search texts, in order (see of())."""
        self.texts: tuple[str, ...] = tuple(texts)
        self.keys: Column = KeysInTexts(self.texts) if _keys_begin(texts, keys) else Objects(keys)
        #: the data's columns, or None and the data kept whole (it is not a tuple)
        self.fields: tuple[Column, ...] | None = None
        self.whole: Objects | None = None
        widths = set(map(len, datas)) if set(map(type, datas)) == {tuple} else set()
        if len(widths) == 1 or not datas:
            columns = []
            for j in range(widths.pop() if widths else 0):
                values = list(map(itemgetter(j), datas))
                columns.append(self.keys if values == keys else packed(values))
            self.fields = tuple(columns)
        else:
            self.whole = Objects(datas)
        self.in_key_order = all(map(le, keys, islice(keys, 1, None)))

    @classmethod
    def of(cls, records: Sequence[Record]) -> Chunk:
        return cls(*(list(map(itemgetter(i), records)) for i in (KEY, DATA, SEARCH)))

    def __len__(self) -> int:
        return len(self.texts)

    def replaced(self, j: int, values: list[Any]) -> Chunk:
        """This chunk with the j-th field's values replaced: the rest is shared, not copied
        (100,000 rooms' member counts do not make 100,000 rows again)."""
        assert self.fields is not None
        new = copy.copy(self)
        new.fields = (*self.fields[:j], packed(values), *self.fields[j + 1:])
        return new

    def data(self, i: int) -> Any:
        if self.fields is None:
            assert self.whole is not None
            return self.whole[i]
        return tuple([f[i] for f in self.fields])

    def record(self, i: int) -> Record:
        return (self.keys[i], self.data(i), self.texts[i])

    def datas(self) -> Iterator[Any]:
        """Every record's data, in order (made in C: zip over the columns)."""
        if self.fields is None:
            assert self.whole is not None
            return iter(self.whole)
        return zip(*self.fields, strict=True) if self.fields else repeat((), len(self))

    def records(self) -> Iterator[Record]:
        return zip(self.keys, self.datas(), self.texts, strict=True)

    def find(self, key: str) -> int:
        """The index of the record with this key, -1 when there is none."""
        keys = self.keys
        if self.in_key_order:
            i = bisect_left(keys, key)
            return i if i < len(self) and keys[i] == key else -1
        if isinstance(keys, KeysInTexts):
            return next(compress(count(), map(str.startswith, self.texts, repeat(key + "\t"))), -1)
        assert isinstance(keys, Objects)
        try:
            return keys.values.index(key)  # a scan in C
        except ValueError:
            return -1


class View(Sequence[Record]):
    """Records of a Rows in an order, by their index in it."""

    rows: Rows
    order: Sequence[int]

    def __len__(self) -> int:
        return len(self.order)

    @overload
    def __getitem__(self, i: int) -> Record: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[Record, ...]: ...
    def __getitem__(self, i: int | slice) -> Record | tuple[Record, ...]:
        if isinstance(i, slice):
            return tuple(map(self.rows._record, self.order[i]))
        return self.rows._record(self.order[i])

    def __iter__(self) -> Iterator[Record]:
        return map(self.rows._record, self.order)


class Rows(View):
    """Every record of a table, in its order: the valid ones in chunks, in the screen's
    order, then the flagged invalid ones."""

    def __init__(self, chunks: Iterable[Chunk] = (), flagged: Iterable[Record] = ()) -> None:
        self.chunks = tuple(chunks)
        self.flagged = tuple(flagged)
        self._starts = list(accumulate((len(c) for c in self.chunks), initial=0))
        self.valid = self._starts[-1]
        #: every record's search text, by index (the filter's input)
        self.texts = tuple(chain(chain.from_iterable(c.texts for c in self.chunks),
                                 (r[SEARCH] for r in self.flagged)))
        self.rows = self
        self.order = range(len(self.texts))

    def _record(self, i: int) -> Record:
        if i >= self.valid:
            return self.flagged[i - self.valid]
        c = bisect_right(self._starts, i) - 1
        return self.chunks[c].record(i - self._starts[c])

    def __iter__(self) -> Iterator[Record]:
        return chain(chain.from_iterable(c.records() for c in self.chunks), self.flagged)

    def datas(self) -> Iterator[Any]:
        """The data of every valid record, in order."""
        return chain.from_iterable(c.datas() for c in self.chunks)

    def find(self, key: str) -> int:
        """The index of the valid record with this key, -1 when there is none."""
        for start, chunk in zip(self._starts, self.chunks, strict=False):  # starts has one more: the end
            i = chunk.find(key)
            if i >= 0:
                return start + i
        return -1

    def index_of(self, key: str) -> int:
        """The index of the record with this key, valid or flagged; -1 when there is none."""
        i = self.find(key)
        if i >= 0:
            return i
        return next((self.valid + j for j, r in enumerate(self.flagged) if r[KEY] == key), -1)


class Picked(View):
    """Some records of Rows in an order: a sort, a filter's matches."""

    def __init__(self, rows: Rows, order: Iterable[int]) -> None:
        self.rows = rows
        self.order = array("I", order)


def narrowed(view: View, needle: str) -> Picked:
    """The records of the view whose search text holds needle, in the view's order."""
    texts, order = view.rows.texts, view.order
    shown = texts if isinstance(order, range) else map(texts.__getitem__, order)
    return Picked(view.rows, compress(order, map(contains, shown, repeat(needle))))


def position(view: View, index: int) -> int:
    """Where the record at this index of the view's Rows is in the view; -1: not in it."""
    order = view.order
    if isinstance(order, range):
        return index if 0 <= index < len(order) else -1
    try:
        return order.index(index)  # array.index: a scan in C
    except ValueError:
        return -1
