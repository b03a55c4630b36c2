"""The optional packages einsumgrad uses, the extra of ``pyproject.toml`` that installs each, and importing one
with an error that names the command installing it.

>>> install("jax"), install("cupy")
("pip install 'einsumgrad[jax]'", 'pip install cupy')
>>> require("numpy", "this").__name__
'numpy'
"""
from __future__ import annotations

import importlib

from .errors import MissingPackageError

EXTRAS = {"jax": "jax", "torch": "torch", "dask": "dask", "matplotlib": "plot"}  # a package -> the extra installing it


def install(package: str) -> str:
    """The command that installs ``package`` (or the package of a module, ``jax.numpy``): einsumgrad's extra
    where it has one, else pip's own."""
    top = package.partition(".")[0]
    return f"pip install 'einsumgrad[{EXTRAS[top]}]'" if top in EXTRAS else f"pip install {top}"


def require(module: str, purpose: str):
    """``module`` imported, or, where its package is not installed, a :class:`MissingPackageError` saying that
    ``purpose`` needs it and how to install it (any other failure of the import is raised as it is).

    >>> require("matplotlib_not_installed", "--plot")
    Traceback (most recent call last):
    ...
    einsumgrad.core.errors.MissingPackageError: --plot needs matplotlib_not_installed, which is not installed: \
pip install matplotlib_not_installed
    """
    top = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if not isinstance(err, ModuleNotFoundError) or (err.name or top).partition(".")[0] != top:
            raise
        raise MissingPackageError(f"{purpose} needs {top}, which is not installed: {install(top)}") from None
