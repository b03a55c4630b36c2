"""Evaluation: expressions + array shapes -> cached plans of opt_einsum contractions.

``settings`` holds the limits and checked options, ``plan`` turns a term into a layout and a
contraction path (pure, no arrays), ``kernels`` runs planned terms on arrays, and
``compiled`` is the front door, :class:`Compiled` (what ``eg.compile`` returns).
"""
from .compiled import Compiled, to_array
from .settings import SETTINGS, check_backend, configure, describe_bytes, memory_limit, whole_number

__all__ = ["SETTINGS", "Compiled", "check_backend", "configure", "describe_bytes", "memory_limit", "to_array",
           "whole_number"]
