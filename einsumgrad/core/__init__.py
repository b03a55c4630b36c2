"""The index calculus: the IR, building and simplifying nodes, forward and reverse differentiation,
symmetric matrices, the function registry's record and the array namespace formulas are written over.
Nothing here imports a higher layer (``docs/design.md`` §7)."""
