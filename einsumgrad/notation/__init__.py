"""Printing and teaching: index notation, LaTeX, matrix notation and the vec form, layouts, slices,
step-by-step derivations, differentials, plots, HTML fragments and MathML."""
