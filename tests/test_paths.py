"""eg.paths: comparing contraction paths of a derivative is a public feature."""
import numpy as np
import opt_einsum
import pytest

import einsumgrad as eg


def test_each_optimizer_reports_its_path_flops_intermediate_and_time(rng):
    J = eg.jacobian("ab,bc,cd,de->ae", wrt=1)
    ops = [rng.standard_normal(s) for s in [(40, 3), (3, 40), (40, 3), (3, 40)]]
    g = rng.standard_normal((40, 40))
    arrays = dict(zip("ABCD", ops), g=g)
    report = eg.paths(J.vjp_expression(*ops), ["greedy", "dp", "optimal"], repeats=2, **arrays)
    assert report.contractions == ("ab,cd,de,ae->bc",)
    for row in report.rows:
        (path,) = row.path
        _, info = opt_einsum.contract_path("ab,cd,de,ae->bc", *[(40, 3), (40, 3), (3, 40), (40, 40)], shapes=True,
                                           optimize=row.optimizer)
        assert path == tuple(map(tuple, info.path)) and row.flops == int(info.opt_cost) and row.seconds > 0
        same = eg.compile(J.vjp_expression(*ops), optimize=row.optimizer)(**arrays)
        np.testing.assert_allclose(same, J.vjp(g, *ops), rtol=1e-10)
    assert report.best() in report.rows
    assert str(report).splitlines()[1].startswith("| optimizer | FLOPs | largest intermediate | time |")


def test_bad_arguments_are_clear_errors():
    x = eg.tensor("x", 1)
    with pytest.raises(eg.EinsumgradError, match="paths needs an expression"):
        eg.paths("ij,j->i")
    with pytest.raises(eg.EinsumgradError, match="repeats is a whole number"):
        eg.paths(eg.sum(x), repeats=0, x=np.ones(2))
    with pytest.raises(eg.EinsumgradError, match="unknown optimize='bogus'"):
        eg.paths(eg.sum(x), ["bogus"], x=np.ones(2))
