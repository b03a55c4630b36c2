"""The teaching page and the rich (HTML + MathML) output of notebooks and static exports."""
