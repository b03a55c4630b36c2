"""Einsum specs: parse a NumPy einsum string once, bind it to operand shapes.

>>> spec = parse("ij,j->i")
>>> spec.inputs, spec.output
((('i', 'j'), ('j',)), ('i',))
>>> parse("ij,jk").output           # implicit: indices seen once, sorted
('i', 'k')
>>> parse("...ij,...j->...i").bind([(5, 2, 3), (3,)])
Bound(inputs=(('a', 'i', 'j'), ('j',)), output=('a', 'i'))
"""
from __future__ import annotations

import itertools
import string
from dataclasses import dataclass
from typing import NamedTuple, Sequence

from .errors import EinsumSyntaxError, ShapeError

LETTERS = frozenset(string.ascii_letters)
ELLIPSIS = "..."


@dataclass(frozen=True)
class Spec:
    """A parsed einsum string: one tuple of subscripts per operand, and the output.

    Subscripts are single letters; ``"..."`` stands for broadcast axes.
    """

    text: str
    inputs: tuple[tuple[str, ...], ...]
    output: tuple[str, ...]

    @property
    def nargs(self) -> int:
        return len(self.inputs)

    @property
    def has_ellipsis(self) -> bool:
        return any(ELLIPSIS in term for term in self.inputs)

    def bind(self, shapes: Sequence[Sequence[int | None]], names: Sequence[str] | None = None) -> Bound:
        """Resolve ``...`` against the operands' shapes and check every size.

        As in NumPy, a size-1 axis stretches to its index's size in the other operands: it is
        read at a fresh index of its own (summed, size 1). A size of ``None`` means "unknown":
        ranks are checked, sizes are not, and stretching is left to evaluation.

        >>> parse("ij,j->i").bind([(2, 3), (1,)])
        Bound(inputs=(('i', 'j'), ('a',)), output=('i',))
        """
        if len(shapes) != self.nargs:
            raise ShapeError(
                f"einsum spec {self.text!r} takes {self.nargs} operand{'s' * (self.nargs != 1)}, got {len(shapes)}"
            )
        given = list(names or ()) + [None] * self.nargs
        names = [f"operand {k}" + ("" if given[k] is None else f" ({given[k]})") for k in range(self.nargs)]
        used = {c for term in self.inputs for c in term if c != ELLIPSIS}
        fresh = (c for c in _spare_names() if c not in used)
        batch: list[tuple[int, int, int | None]] = []  # (operand, axis, size) of each broadcast axis
        named: list[dict[str, int | None]] = []  # per operand: letter -> size
        for k, (term, shape) in enumerate(zip(self.inputs, shapes)):
            letters = [c for c in term if c != ELLIPSIS]
            label = names[k]
            if ELLIPSIS not in term and len(shape) != len(letters):
                raise ShapeError(
                    f"{label} has rank {len(shape)}, but its subscripts {''.join(term)!r} in "
                    f"{self.text!r} need rank {len(letters)}"
                )
            if len(shape) < len(letters):
                raise ShapeError(
                    f"{label} has rank {len(shape)}, but its subscripts {''.join(term)!r} in "
                    f"{self.text!r} need rank at least {len(letters)}"
                )
            nbatch = len(shape) - len(letters)
            at = term.index(ELLIPSIS) if ELLIPSIS in term else 0
            own: dict[str, int | None] = {}
            for axis, size in enumerate(shape):
                if at <= axis < at + nbatch:
                    batch.append((k, axis - at - nbatch, size))
                    continue
                c = term[axis if ELLIPSIS not in term or axis < at else axis - nbatch + 1]
                if own.get(c) is not None and size is not None and own[c] != size:
                    raise ShapeError(
                        f"index {c!r} has size {size} in {label} but size {own[c]} earlier in the same operand "
                        f"(spec {self.text!r}); a repeated index needs one size"
                    )
                if own.get(c) is None:
                    own[c] = size
            named.append(own)
        index_size = self._index_sizes(named, names)
        # broadcast axes, aligned from the right as NumPy does
        depth = max((-offset for _, offset, _ in batch), default=0)
        if depth and ELLIPSIS not in self.output:
            raise ShapeError(
                f"the operands have {depth} broadcast axis(es) for '...' but the output of "
                f"{self.text!r} has no '...' to hold them"
            )
        full: dict[int, int | None] = {}  # a known size beats an unknown one, which beats 1 (it may stretch)
        for k, offset, size in batch:
            seen = full.get(offset, 1)
            if size not in (None, 1) and seen not in (None, 1, size):
                raise ShapeError(
                    f"broadcast axis {offset} of '...' has size {size} in {names[k]} "
                    f"but {seen} elsewhere; they can only differ where one is 1"
                )
            if seen == 1 or size not in (None, 1):
                full[offset] = size
        axis_names = {offset: next(fresh) for offset in range(-depth, 0)}
        inputs = []
        for k, term in enumerate(self.inputs):
            out: list[str] = []
            stretched: dict[str, str] = {}  # this operand's size-1 axes that NumPy stretches: fresh names
            for c in term:
                if c != ELLIPSIS:
                    if named[k][c] == 1 and index_size.get(c, 1) != 1:
                        if c not in stretched:
                            stretched[c] = next(fresh)
                        c = stretched[c]
                    out.append(c)
                    continue
                for k2, offset, size in batch:
                    if k2 != k:
                        continue
                    squeezed = size == 1 and full[offset] != 1
                    out.append(next(fresh) if squeezed else axis_names[offset])
            inputs.append(tuple(out))
        output: list[str] = []
        for c in self.output:
            output.extend(axis_names[o] for o in range(-depth, 0)) if c == ELLIPSIS else output.append(c)
        return Bound(tuple(inputs), tuple(output))

    def _index_sizes(self, named: list[dict[str, int | None]], names: list[str]) -> dict[str, int]:
        """The size of every index with a known size: where operands differ, one of them is 1
        (NumPy stretches it); anything else is a :class:`ShapeError`."""
        full: dict[str, tuple[int, int]] = {}  # letter -> (size, operand that set it)
        for k, own in enumerate(named):
            for c, size in own.items():
                if size is None:
                    continue
                other, where = full.get(c, (1, k))
                if size != 1 and other not in (1, size):
                    raise ShapeError(
                        f"index {c!r} has size {size} in {names[k]} but size {other} in {names[where]} "
                        f"(spec {self.text!r}); sizes must agree, or one be 1"
                    )
                if other == 1:
                    full[c] = (size, k)
        return {c: size for c, (size, _) in full.items()}


class Bound(NamedTuple):
    """A spec with its ellipses resolved: plain index names only."""

    inputs: tuple[tuple[str, ...], ...]
    output: tuple[str, ...]


def _spare_names():
    """Letters, then ``a1, b1, ...`` without end: names for the axes under '...'."""
    yield from string.ascii_lowercase + string.ascii_uppercase
    for k in itertools.count(1):
        yield from (f"{c}{k}" for c in string.ascii_lowercase)


def parse(text: str) -> Spec:
    """Parse a NumPy einsum string; raise :class:`EinsumSyntaxError` with a caret on bad input."""
    if not isinstance(text, str):
        raise EinsumSyntaxError(repr(text), 0, f"an einsum spec must be a string, got {type(text).__name__}")
    arrows = [k for k in range(len(text)) if text.startswith("->", k)]
    if len(arrows) > 1:
        raise EinsumSyntaxError(text, arrows[1], "an einsum spec has at most one '->'")
    lhs_end = arrows[0] if arrows else len(text)
    inputs: list[tuple[str, ...]] = []
    term: list[str] = []
    pos = 0
    while pos < lhs_end:
        c = text[pos]
        if c == ",":
            inputs.append(tuple(term))
            term = []
        else:
            pos = _read_subscript(text, pos, term)
            continue
        pos += 1
    inputs.append(tuple(term))
    seen = {c for t in inputs for c in t}
    if not arrows:
        counts: dict[str, int] = {}
        for t in inputs:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        singles = sorted(c for c, n in counts.items() if n == 1 and c != ELLIPSIS)
        output = ((ELLIPSIS,) if ELLIPSIS in seen else ()) + tuple(singles)
        return Spec(text, tuple(inputs), output)
    output_list: list[str] = []
    pos = arrows[0] + 2
    while pos < len(text):
        if text[pos] == ",":
            raise EinsumSyntaxError(text, pos, "the output of an einsum spec is a single term: no ',' after '->'")
        start, before = pos, len(output_list)
        pos = _read_subscript(text, pos, output_list)
        if len(output_list) > before:
            c = output_list[-1]
            if c not in seen:
                what = "'...'" if c == ELLIPSIS else f"index {c!r}"
                raise EinsumSyntaxError(
                    text, start, f"output {what} appears in no input", "every output index must appear in an input"
                )
            if output_list.count(c) > 1:
                raise EinsumSyntaxError(text, start, f"output index {c!r} is repeated", "each output index appears once")
    return Spec(text, tuple(inputs), tuple(output_list))


def _read_subscript(text: str, pos: int, term: list[str]) -> int:
    """Append the subscript at ``pos`` (a letter or '...') to ``term``; return the next position."""
    c = text[pos]
    if c.isspace():
        return pos + 1
    if c in LETTERS:
        term.append(c)
        return pos + 1
    if text.startswith(ELLIPSIS, pos):
        if ELLIPSIS in term:
            raise EinsumSyntaxError(text, pos, "an operand has at most one '...'")
        term.append(ELLIPSIS)
        return pos + 3
    if c == ".":
        raise EinsumSyntaxError(text, pos, "a '.' must be part of '...'")
    if c in "->":
        raise EinsumSyntaxError(text, pos, f"stray {c!r}: the output arrow is written '->'")
    raise EinsumSyntaxError(
        text, pos, f"invalid character {c!r} in einsum spec", "subscripts are letters a-z, A-Z; use ',', '->' and '...'"
    )
