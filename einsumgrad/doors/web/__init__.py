"""The teaching page: its answers (through :mod:`einsumgrad.doors.question`), the local server and its worker."""
