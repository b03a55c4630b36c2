"""The functions: elementwise and matrix functions, reductions along axes, indexing, shape operations and
functions of your own, each one entry of the registry of :mod:`einsumgrad.core.functions`."""
