"""``python -m einsumgrad`` runs the command line."""
import sys

from .doors.cli import main

sys.exit(main())
