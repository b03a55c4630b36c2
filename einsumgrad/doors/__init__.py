"""The ways in: the expression language, index-notation and LaTeX input, the question pipeline, the
command line, the demos and the page (``web/``)."""
