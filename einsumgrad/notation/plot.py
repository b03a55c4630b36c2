"""Heatmaps of a Jacobian with matplotlib (the ``plot`` extra): one picture for rank 0 to 2, one
slice ``J[:, :, k]`` per panel for rank 3, each titled with what it is (see :mod:`.slices`)."""
from __future__ import annotations

import numpy as np

from . import slices
from ..core.errors import EinsumgradError
from ..core.extras import require

MAX_PANELS = 16  # slices drawn side by side; more would be too small to read


def plot(value: np.ndarray, path: str, title: str, name: str = "J", axes=("i", "j"), form=None) -> None:
    """Write ``value`` to ``path`` as heatmaps, rows ``axes[0]`` and columns ``axes[1]``; ``form``
    (see :func:`.slices.identity_form`) titles each slice of a third-order ``value``."""
    value = np.asarray(value)
    check(value, name)
    plt = _pyplot()
    panels = [value[..., k] for k in range(value.shape[2])] if value.ndim == 3 else [value.reshape(
        (1, -1) if value.ndim < 2 else value.shape)]
    k = len(panels)
    row, col = (axes[0], axes[1]) if value.ndim >= 2 else ("", axes[0] if value.ndim else "")
    fig, grid = plt.subplots(1, k, figsize=(3.2 * k + 1, 3.4), squeeze=False, constrained_layout=True)
    limit = float(np.abs(value).max(initial=0)) or 1.0
    for j, (ax, matrix) in enumerate(zip(grid[0], panels)):
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
        if value.ndim == 3:
            ax.set_title(slices.title(name, (j,), matrix, form), fontsize=9)
        ax.set_xticks(range(matrix.shape[1]))
        ax.set_yticks(range(matrix.shape[0]) if value.ndim >= 2 else [])
        ax.set_xlabel(col)
        if j == 0:
            ax.set_ylabel(row)
        for (r, c), v in np.ndenumerate(matrix):
            ax.text(c, r, f"{v:.2g}", ha="center", va="center", fontsize=9,
                    color="white" if abs(v) > 0.6 * limit else "black")
    fig.colorbar(image, ax=grid[0].tolist(), shrink=0.8)
    fig.suptitle(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"\nwrote {path}")


def vec_axes(y: str, x: str) -> tuple[str, str]:
    """The axes of ``∂vec(y)/∂vec(x)ᵀ``: positions in the stacked vectors, not indices of ``y`` or ``x``.

    >>> vec_axes("y", "W")
    ('position in vec(y)', 'position in vec(W) (its columns stacked)')
    """
    return f"position in vec({y})", f"position in vec({x}) (its columns stacked)"


def check(value: np.ndarray, name: str = "J") -> None:
    """Refuse, before anything is drawn or printed, what :func:`plot` cannot draw."""
    if np.ndim(value) > 3:
        raise EinsumgradError(f"--plot draws a Jacobian of rank at most 3 (one heatmap, or the slices "
                              f"{name}[:, :, k] of a third-order one); this one has rank {np.ndim(value)}, shape "
                              f"{np.shape(value)}: --layout vec draws it as the matrix ∂vec(y)/∂vec(X)ᵀ")
    if np.ndim(value) == 3 and np.shape(value)[2] > MAX_PANELS:
        raise EinsumgradError(f"--plot draws at most {MAX_PANELS} slices {name}[:, :, k] side by side; this "
                              f"Jacobian has {np.shape(value)[2]} (shape {np.shape(value)}): give smaller --shapes")
    if not np.isrealobj(value):
        raise EinsumgradError("--plot draws real numbers; this Jacobian is complex")


def _pyplot():
    require("matplotlib", "--plot").use("Agg")
    return require("matplotlib.pyplot", "--plot")
