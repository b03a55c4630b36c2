"""Test profiles, chosen by the environment variable ``EINSUMGRAD_PROFILE``:

- ``ci`` (the default; what ``.ci/run`` runs): every test, each property test with its full count of examples;
- ``dev``: a quick loop, every property test with a twentieth of its examples (at least :data:`DEV_MIN`), hypothesis's
  own default of examples cut to :data:`DEV_MIN`, and the tests marked ``slow`` deselected (``-m slow`` runs them;
  the marker's criterion is in pyproject.toml).

A test writes its count as ``@settings(max_examples=examples(500))``: an explicit ``max_examples`` is not overridden by a
hypothesis profile, so the count itself scales.
"""
import os

from hypothesis import settings

PROFILES = ("ci", "dev")
DEV_SCALE = 20  # the dev profile runs 1/DEV_SCALE of each property test's examples
DEV_MIN = 5

NAME = os.environ.get("EINSUMGRAD_PROFILE", "ci").strip().lower() or "ci"
if NAME not in PROFILES:
    raise ValueError(f"EINSUMGRAD_PROFILE={NAME!r}: choose one of {', '.join(PROFILES)}")

settings.register_profile("ci", print_blob=True)  # hypothesis's defaults, and a failure's reproduction blob
settings.register_profile("dev", max_examples=DEV_MIN)
settings.load_profile(NAME)


def examples(n: int) -> int:
    """A property test's count of examples ``n`` (its ci count) under the profile in use."""
    return n if NAME == "ci" else max(DEV_MIN, n // DEV_SCALE)
