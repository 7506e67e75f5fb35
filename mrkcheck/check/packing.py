"""States as fixed-width integer keys, and the exact symmetry reduction computed on keys.

The vectorised engine (:mod:`mrkcheck.check.vectorised`) keeps a state as one or more 64-bit words:
each slot takes as many bits as its domain needs (its value minus the domain's lower bound), so a
state of the KMS model with 5 Regions fits one word where a Python tuple takes 200 bytes. A level
of states is an array of keys (``uint64``, or a structured array of words compared word by word),
so sorting, deduplication and membership are numpy calls.

The layout keeps the order of states: within a word the first slot is the most significant, and
the words follow the slots, so comparing keys compares the state tuples lexicographically, as the
per-state canonicaliser of :mod:`mrkcheck.check.symmetry` does. When column sorting applies (one
symmetric universe, each variable indexed by it at most once), every element's column of slots is
one contiguous bit field in its slot order instead, so that sorting the fields of a class sorts
the columns exactly as the per-state canonicaliser does, a few numpy operations per level.
Otherwise the orbit minimum reads each permutation's image of a key from tables indexed by
12-bit pieces of the key (a permutation of elements is a permutation of the key's bits).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mrkcheck.check.symmetry import (
    _class_permutations,
    _columns_are_disjoint,
    element_columns,
    slot_image,
    symmetric_universes,
)
from mrkcheck.lang.model import Model, ModelError, State, Universe

WORD = 64
Words = list[np.ndarray]  # one uint64 array per word, all of one length


@dataclass(frozen=True)
class Field:
    """A run of slots stored side by side in one word, the first one in the highest bits."""

    slots: tuple[int, ...]
    word: int
    shift: int  # of the lowest bit of the field
    bits: int


@dataclass
class Layout:
    """Where each slot lives in the key: word, shift, width and the domain's lower bound."""

    width: int
    words: int
    word: list[int]
    shift: list[int]
    bits: list[int]
    lo: list[int]
    fields: list[Field]
    column_classes: list[list[Field]]  # per class of a column-sorted universe, its members' fields

    @property
    def key_dtype(self) -> np.dtype:
        if self.words == 1:
            return np.dtype(np.uint64)
        return np.dtype([(f"w{i}", np.uint64) for i in range(self.words)])

    @property
    def spare_bits(self) -> int:
        """Low bits of a one-word key that no slot uses (slots fill a word from the top)."""
        if self.words != 1:
            return 0
        return min([self.shift[s] for s in range(self.width) if self.bits[s]] + [WORD - 2])

    @property
    def bytes_per_key(self) -> int:
        return 8 * self.words

    # --- keys and words ---------------------------------------------------------------------

    def combine(self, words: Words) -> np.ndarray:
        """One key array from its words."""
        if self.words == 1:
            return words[0]
        keys = np.empty(len(words[0]), dtype=self.key_dtype)
        for i, w in enumerate(words):
            keys[f"w{i}"] = w
        return keys

    def split(self, keys: np.ndarray) -> Words:
        """The words of a key array (views where possible)."""
        if self.words == 1:
            return [keys]
        return [np.ascontiguousarray(keys[f"w{i}"]) for i in range(self.words)]

    def columns(self, words: Words) -> list[np.ndarray]:
        """Every slot's values (int16, one array per slot) of the keys ``words``."""
        out = []
        for s in range(self.width):
            w, shift, bits = words[self.word[s]], self.shift[s], self.bits[s]
            if bits == 0:
                out.append(np.full(len(w), self.lo[s], dtype=np.int16))
                continue
            values = ((w >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.int16)
            if self.lo[s]:
                values += np.int16(self.lo[s])
            out.append(values)
        return out

    def pack(self, states: list[State]) -> np.ndarray:
        """Keys of some states given as tuples (initial states)."""
        rows = np.array(states, dtype=np.int64).reshape(len(states), self.width)
        words = [np.zeros(len(states), dtype=np.uint64) for _ in range(self.words)]
        for s in range(self.width):
            if self.bits[s]:
                value = (rows[:, s] - self.lo[s]).astype(np.uint64) << np.uint64(self.shift[s])
                words[self.word[s]] |= value
        return self.combine(words)

    def unpack(self, key: np.ndarray | np.generic) -> State:
        """The state tuple of one key."""
        words = self.split(np.asarray(key).reshape(1))
        return tuple(int(c[0]) for c in self.columns(words))


def layout_of(model: Model, symmetry: bool) -> Layout:
    """The key layout of ``model``'s states: column fields when column sorting applies."""
    schema = model.schema
    width = schema.width
    lo, bits = [0] * width, [0] * width
    for var, _idx, slot in schema.slots():
        lo[slot] = var.domain.lo
        bits[slot] = (var.domain.hi - var.domain.lo).bit_length()
    universes = symmetric_universes(model) if symmetry else []
    groups: list[list[list[int]]] = []
    if len(universes) == 1 and _columns_are_disjoint(model, universes[0]):
        groups = _column_groups(model, universes[0])
    in_columns = {s for group in groups for column in group for s in column}
    runs: list[tuple[int, ...]] = [tuple(c) for group in groups for c in group]
    runs += [(s,) for s in range(width) if s not in in_columns]
    runs.sort(key=lambda run: run[0])
    fields, word, used = [], 0, 0
    for run in runs:
        size = sum(bits[s] for s in run)
        if size > WORD:
            raise ModelError(f"a column of {size} bits does not fit a 64-bit word")
        if used + size > WORD:
            word, used = word + 1, 0
        used += size
        fields.append(Field(run, word, WORD - used, size))
    words = word + 1
    slot_word, slot_shift = [0] * width, [0] * width
    for f in fields:
        top = f.shift + f.bits
        for s in f.slots:
            top -= bits[s]
            slot_word[s], slot_shift[s] = f.word, top
    by_first = {f.slots[0]: f for f in fields}
    column_classes = [[by_first[c[0]] for c in group] for group in groups]
    return Layout(width, words, slot_word, slot_shift, bits, lo, fields, column_classes)


def _column_groups(model: Model, universe: Universe) -> list[list[list[int]]]:
    """The columns of slots of each class of ``universe`` with more than one member."""
    columns, groups = element_columns(model, universe)
    return [[columns[p] for p in members] for members in groups]


# --- canonical forms on keys ----------------------------------------------------------------------


Canon = Callable[[Words], Words]


def key_canonicalizer(model: Model, layout: Layout) -> Canon:
    """Keys to the keys of their canonical representatives, the same representatives as
    :func:`mrkcheck.check.symmetry.canonicalizer` picks (so searches and traces agree)."""
    if layout.column_classes:
        return lambda words: _sort_columns(layout, words)
    return _in_batches(_orbit_minimum(model, layout))


BATCH = 1 << 15  # keys canonicalised together by the orbit minimum


def _in_batches(canon: Canon) -> Canon:
    """``canon`` a batch of keys at a time: the orbit minimum holds a table index per piece of
    each key it works on (a level's successors at once would take hundreds of megabytes)."""

    def batched(words: Words) -> Words:
        n = len(words[0])
        if n <= BATCH:
            return canon(words)
        parts = [canon([w[i : i + BATCH] for w in words]) for i in range(0, n, BATCH)]
        return [np.concatenate(column) for column in zip(*parts, strict=True)]

    return batched


def _sort_columns(layout: Layout, words: Words) -> Words:
    """Sort the column fields of each class: numeric order of a field is its tuple order."""
    words = [w.copy() for w in words]
    for members in layout.column_classes:
        values = np.stack([_field(words, f) for f in members], axis=1)
        values.sort(axis=1)
        for j, f in enumerate(members):
            mask = np.uint64(((1 << f.bits) - 1) << f.shift)
            words[f.word] = (words[f.word] & ~mask) | (values[:, j] << np.uint64(f.shift))
    return words


def _field(words: Words, f: Field) -> np.ndarray:
    return (words[f.word] >> np.uint64(f.shift)) & np.uint64((1 << f.bits) - 1)


def _orbit_minimum(model: Model, layout: Layout) -> Canon:
    """The least key over the symmetry group.

    A permutation of elements moves slots, and a slot moves to a slot of the same variable (same
    width), so it moves every bit of a key to a fixed bit: it is a bit permutation. Its image of a
    key is therefore the OR of the images of the key's pieces, each read from a table
    (:class:`_PieceTables`): four table reads per permutation for a 48-bit key, where moving
    every slot took two operations per slot."""
    universes = symmetric_universes(model)
    sources: list[list[int]] = []
    for combo in itertools.product(*(_class_permutations(u) for u in universes)):
        image = slot_image(model, {u.name: p for u, p in zip(universes, combo, strict=True)})
        source = [0] * layout.width
        for slot, moved in enumerate(image):
            source[moved] = slot
        if source != list(range(layout.width)):
            sources.append(source)
    if not sources:
        return lambda words: words
    tables = _PieceTables(layout, sources)
    return tables.least_one_word if layout.words == 1 else tables.least


TABLE_BYTES = 1 << 22  # the orbit minimum's tables: 12-bit pieces while they fit in this


class _PieceTables:
    """The bits a key's slots use, cut into pieces of 12 bits (8 for a large group): per piece,
    per permutation and per word, the image of each of the piece's values, so that a
    permutation's image of a key is the OR of one table read per piece (tables of 32 KiB, read
    with a key's piece as index, stay in the cache)."""

    def __init__(self, layout: Layout, sources: list[list[int]]):
        used = [0] * layout.words  # the bits each word holds
        for s in range(layout.width):
            used[layout.word[s]] |= ((1 << layout.bits[s]) - 1) << layout.shift[s]
        spans = [(w, (u & -u).bit_length() - 1, u.bit_length()) for w, u in enumerate(used) if u]
        width = 12
        pieces = sum(-(-(top - low) // width) for _, low, top in spans)
        if pieces * len(sources) * layout.words * 8 << width > TABLE_BYTES:
            width = 8
        self.pieces = [(w, at, width) for w, low, top in spans for at in range(low, top, width)]
        # tables[piece][permutation][word], None where the piece sends no bit to that word
        self.tables = [_piece_table(layout, sources, *piece) for piece in self.pieces]

    def _indices(self, words: Words) -> list[np.ndarray]:
        return [
            ((words[w] >> np.uint64(at)) & np.uint64((1 << width) - 1)).astype(np.intp)
            for w, at, width in self.pieces
        ]

    def least_one_word(self, words: Words) -> Words:
        """:meth:`least` for one-word keys, where the least image is ``np.minimum``'s (no
        lexicographic comparison over words)."""
        indices = self._indices(words)
        best = words[0]
        for p in range(len(self.tables[0])):
            image = np.zeros(len(best), dtype=np.uint64)
            for table, index in zip(self.tables, indices, strict=True):
                part = table[p][0]
                if part is not None:
                    image |= part[index]
            best = np.minimum(best, image)
        return [best]

    def least(self, words: Words) -> Words:
        """Each key's least image over the permutations (the identity's included: the key)."""
        indices = self._indices(words)
        best = list(words)
        for p in range(len(self.tables[0])):
            image = [np.zeros(len(words[0]), dtype=np.uint64) for _ in words]
            for table, index in zip(self.tables, indices, strict=True):
                for w, part in enumerate(table[p]):
                    if part is not None:
                        image[w] |= part[index]
            less = _lexicographically_less(image, best)
            best = [np.where(less, c, b) for c, b in zip(image, best, strict=True)]
        return best


def _piece_table(
    layout: Layout, sources: list[list[int]], word: int, at: int, width: int
) -> list[list[np.ndarray | None]]:
    """Per permutation and word, the image of every value of bits ``at .. at + width`` of
    ``word``: each bit of a slot goes to the same bit of the slot it is moved to."""
    values = np.arange(1 << width, dtype=np.uint64)
    out: list[list[np.ndarray | None]] = []
    for source in sources:
        parts = [np.zeros(len(values), dtype=np.uint64) for _ in range(layout.words)]
        for dest, src in enumerate(source):
            if layout.bits[src] != layout.bits[dest] or layout.lo[src] != layout.lo[dest]:
                raise ModelError("a symmetry moves a slot to a slot of another domain")
            if layout.word[src] != word:
                continue
            for j in range(layout.bits[src]):
                bit = layout.shift[src] + j - at
                if not 0 <= bit < width:
                    continue
                moved = ((values >> np.uint64(bit)) & np.uint64(1)) << np.uint64(
                    layout.shift[dest] + j
                )
                parts[layout.word[dest]] |= moved
        out.append([part if part.any() else None for part in parts])
    return out


def _lexicographically_less(a: Words, b: Words) -> np.ndarray:
    less = np.zeros(len(a[0]), dtype=bool)
    equal = np.ones(len(a[0]), dtype=bool)
    for x, y in zip(a, b, strict=True):
        less |= equal & (x < y)
        equal &= x == y
    return less
