"""What a derivative is, as data: the function and its indices, each variable it is taken by
with its indices, the layout it is in, and for a symmetric matrix's duplication gradient or a
Hessian–vector product, which. Printing (:func:`einsumgrad.notation.render.left_side`), codegen's names,
check's labels and the vec formula read it; nothing reads a printed name back.

>>> H = Label("f").by("x", ("i",)).by("x", ("j",))
>>> H.order, H.variables, H.indices
(2, ('x', 'x'), ('i', 'j'))

A slice of a derivative (or of a named result) keeps its label, read at the slice's positions
(``at``): ``∂L/∂Φ[l,a,b]`` sliced ``[:, 1, 0]`` is ``∂L/∂Φ[l,1,0]``.

>>> Label("L").by("Φ", ("l", "a", "b")).sliced(("l", "1", "0")).shown().indices
('l', '1', '0')
"""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Label:
    """``∂ⁿf[f_idx]/∂x[…]∂y[…]…``: ``wrt`` holds each ``(variable, its indices)`` in turn (none:
    ``f`` itself). ``convention="duplication"`` marks ``dup(∂f/∂S)``; ``direction`` (``v``) the
    Hessian–vector product ``H v`` by ``wrt``'s one variable. ``at`` (a slice's): the position each
    of :attr:`indices` is read at, an index of the slice or a fixed position (``1``, ``i+1``)."""

    f: str
    wrt: tuple[tuple[str, tuple[str, ...]], ...] = ()
    f_idx: tuple[str, ...] = ()
    layout: str = "shape"
    convention: str = ""
    direction: str = ""
    at: tuple[str, ...] = ()

    @property
    def order(self) -> int:
        return len(self.wrt) + bool(self.direction)

    @property
    def partial(self) -> bool:
        """Whether this is a plain ``∂ⁿf/∂x…`` (not ``dup(…)``, not ``H v``)."""
        return not (self.convention or self.direction or self.at)

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(x for x, _ in self.wrt)

    @property
    def indices(self) -> tuple[str, ...]:
        """The derivative's indices in the shape layout: ``f``'s, then each variable's."""
        return self.f_idx + tuple(a for _, idx in self.wrt for a in idx)

    def by(self, x: str, x_idx=()) -> Label:
        """The derivative of this one by ``x`` at ``x_idx``, in the shape layout; a ``dup(…)`` or an
        ``H v`` is a function of its own here, named ``f`` or ``Hv``."""
        base = self if self.partial else Label("Hv" if self.direction else "f", f_idx=self.indices)
        return replace(base, wrt=base.wrt + ((x, tuple(x_idx)),), layout="shape")

    def renamed(self, names: dict) -> Label:
        """The same derivative with its indices renamed by ``names`` (those not in it kept)."""
        def new(idx):
            return tuple(names.get(a, a) for a in idx)

        return replace(self, f_idx=new(self.f_idx), wrt=tuple((x, new(idx)) for x, idx in self.wrt))

    def bare(self) -> Label:
        """Without indices: ``∂²f/∂W∂x``, as check's reports name a derivative."""
        return replace(self, f_idx=(), wrt=tuple((x, ()) for x, _ in self.wrt), at=())

    def sliced(self, at: tuple[str, ...]) -> Label:
        """This label read at ``at``, one position per index of :attr:`indices`."""
        assert len(at) == len(self.indices) and not self.at
        return replace(self, at=tuple(at))

    def shown(self) -> Label:
        """The label as printed: a slice's indices its positions (``∂L/∂Φ[l,1,0]``), ``at`` dropped."""
        if not self.at:
            return self
        k, wrt, rest = len(self.f_idx), [], self.at[len(self.f_idx):]
        for x, idx in self.wrt:
            wrt.append((x, rest[:len(idx)]))
            rest = rest[len(idx):]
        return replace(self, f_idx=self.at[:k], wrt=tuple(wrt), at=())
