"""Guards that hold (memory limit, ranks, operand counts) and bad input that gets our errors."""
import string

import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.doors.cli import main

J = eg.jacobian("ij,j->i", wrt=0, names="W,x")


# -- the memory limit --------------------------------------------------------------
def test_a_lower_limit_applies_to_plans_already_made(restore_settings):
    W, x = np.ones((40, 40)), np.ones(40)
    assert J(W, x).shape == (40, 40, 40)  # 500 KiB: a plan is made and cached
    eg.configure(memory_limit=100_000)
    with pytest.raises(eg.MemoryLimitError, match=r"shape \(40, 40, 40\): 500 KiB, over the limit of 97.7 KiB"):
        J(W, x)
    eg.configure(memory_limit=10**6)
    assert J(W, x).shape == (40, 40, 40)


def test_a_limit_of_zero_means_zero(restore_settings):
    with pytest.raises(eg.MemoryLimitError, match=r"shape \(2, 2, 2\): 64 B, over the limit of 0 B"):
        J(np.ones((2, 2)), np.ones(2), memory_limit=0)
    eg.configure(memory_limit=0)
    with pytest.raises(eg.MemoryLimitError, match="over the limit of 0 B"):
        eg.evaluate(eg.tensor("a", 1) * 2, a=np.ones(3))


def test_dask_arrays_do_not_switch_the_guard_off_for_numpy(restore_settings):
    da = pytest.importorskip("dask.array")
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    f = eg.compile(eg.jacobian(W @ x, W))
    eg.configure(memory_limit=1 << 20)
    lazy = f(W=da.ones((60, 60)), x=da.ones(60))  # 1.6 MiB, but lazy: no guard
    assert isinstance(lazy, da.Array) and lazy.shape == (60, 60, 60)
    with pytest.raises(eg.MemoryLimitError, match="over the limit of 1 MiB"):
        f(W=np.ones((60, 60)), x=np.ones(60))


def test_intermediates_of_a_contraction_are_guarded(restore_settings):
    A, B, C = eg.tensor("A", 2), eg.tensor("B", 2), eg.tensor("C", 2)
    product = eg.einsum("ij,jk,kl->il", A, B, C)
    arrays = dict(A=np.ones((300, 1)), B=np.ones((1, 300)), C=np.ones((300, 1)))
    bad_path = eg.compile(product, optimize=[(0, 2), (0, 1)])  # A C first: an outer product of 300 x 300
    np.testing.assert_array_equal(bad_path(**arrays), np.full((300, 1), 300.0))
    eg.configure(memory_limit=100_000)  # the result (2.3 KiB) fits; the intermediate (703 KiB) does not
    with pytest.raises(eg.MemoryLimitError, match=r"contracting ab,bc,cd->ad over shapes \(300, 1\), \(1, 300\), "
                                                  r"\(300, 1\) pairwise makes an intermediate: 703 KiB, over the "
                                                  r"limit of 97.7 KiB\. Use smaller sizes or another optimize="):
        bad_path(**arrays)
    np.testing.assert_array_equal(eg.compile(product)(**arrays), np.full((300, 1), 300.0))  # a good path fits


@pytest.mark.parametrize("value", [-5, 1.5, True, float("inf"), float("nan"), "x", [1], None])
def test_bad_memory_limits_are_refused(restore_settings, value):
    if value is not None:
        with pytest.raises(eg.EinsumgradError, match=r"memory_limit must be a whole number >= 0 of bytes, or 'auto'"):
            eg.configure(memory_limit=value)
    with pytest.raises(eg.EinsumgradError, match=r"memory_limit must be a whole number >= 0 of bytes; got"):
        J(np.ones((2, 2)), np.ones(2), memory_limit=value if value is not None else -1)
    assert eg.configure()["memory_limit"] is None


@pytest.mark.parametrize("value", [-3, 2.5, False, "x"])
def test_bad_plan_cache_sizes_are_refused(restore_settings, value):
    with pytest.raises(eg.EinsumgradError, match=rf"plan_cache_size must be a whole number >= 0; got {value!r}"):
        eg.configure(plan_cache_size=value)
    assert eg.configure()["plan_cache_size"] == 128


def test_whole_numbers_in_float_form_are_taken(restore_settings):
    assert eg.configure(memory_limit=2e9, plan_cache_size=np.int64(7), straight_limit=1e3) == {
        "memory_limit": 2_000_000_000, "plan_cache_size": 7, "straight_limit": 1000, "fuse": True}


# -- ranks and operand counts -----------------------------------------------------
def test_a_rank_over_numpys_limit_is_refused_at_once():
    with pytest.raises(eg.ShapeError, match="tensor 'x': rank 10000000 is over NumPy's limit of 64 axes"):
        eg.tensor("x", 10**7)
    with pytest.raises(eg.ShapeError, match="rank 65 is over NumPy's limit"):
        eg.tensor("x", (2,) * 65)
    assert eg.tensor("x", 64).ndim == 64


def many_operands():
    """70 operands: X over 40 axes, then one vector per axis; y = X ⊙ (the vectors' outer product)."""
    letters = string.ascii_letters[:40]
    spec = ",".join([letters] + [letters[k % 40] for k in range(69)]) + "->" + letters
    shape = (3, 2) + (1,) * 38
    rng = np.random.default_rng(0)
    ops = [rng.standard_normal(shape)] + [rng.standard_normal(shape[k % 40]) for k in range(69)]
    return spec, shape, ops, rng.standard_normal(shape)


def test_seventy_operands_vjp_works_and_their_80_axis_jacobian_is_refused():
    spec, shape, ops, g = many_operands()
    J70 = eg.jacobian(spec, wrt=0)
    expected = g.copy()
    for k, v in enumerate(ops[1:]):
        expected = expected * v.reshape([-1 if axis == k % 40 else 1 for axis in range(40)])
    np.testing.assert_allclose(J70.vjp(g, *ops), expected)
    with pytest.raises(eg.ShapeError, match="this result would have 80 axes, but NumPy arrays have at most 64"):
        J70(*ops)


def test_seventy_operands_without_optimization_contract_pairwise():
    x, z = eg.tensor("x", 1), eg.tensor("z", 1)
    y = eg.einsum(",".join(["i"] * 70) + "->", *[x] * 35, *[z] * 35)
    f = eg.compile(y, optimize=False)
    np.testing.assert_allclose(f(x=np.full(3, 1.1), z=np.full(3, 0.9)), 3 * 0.99**35)


# -- Jacobian operand names --------------------------------------------------------
@pytest.mark.parametrize("names", ["y,out,z,result,w", "g,G,g_y,cotangent,w", "x,dx,t,T,tangent"])
def test_operand_names_never_use_up_the_reserved_names(names):
    Jn = eg.jacobian("ij,jk,kl,lm,mn->in", wrt=0, names=names)
    rng = np.random.default_rng(1)
    ops = [rng.standard_normal((2, 2)) for _ in range(5)]
    g = rng.standard_normal((2, 2))
    rest = ops[1] @ ops[2] @ ops[3] @ ops[4]
    np.testing.assert_allclose(Jn.vjp(g, *ops), g @ rest.T)
    np.testing.assert_allclose(Jn.jvp(g, *ops), g @ rest)
    assert Jn.output_name not in names.split(",") and Jn.cotangent_name not in names.split(",")


def test_numbered_names_when_every_preferred_one_is_taken():
    assert eg.jacobian("i,i,i,i,i->i", names="y,out,z,result,y1").output_name == "y2"


def test_bad_names_and_dtypes_are_refused():
    with pytest.raises(eg.EinsumgradError, match="names is a string such as 'W,x' or a list of strings, got 5"):
        eg.jacobian("ij,j->i", names=5)
    with pytest.raises(eg.EinsumgradError, match="dtype='bogus' is not a NumPy dtype of numbers"):
        J.nbytes((2, 2), (2,), dtype="bogus")
    with pytest.raises(eg.ShapeError, match=r"nbytes takes one shape per operand, a tuple of sizes >= 0; got \(2, -"):
        J.nbytes((2, -2), (-2,))
    assert J.nbytes((2, 2), (2,), dtype="float32") == 32


# -- arguments of sum, compile and check -----------------------------------------
@pytest.mark.parametrize("axis", [0.0, "0", [None], True, np.array([0])])
def test_bad_sum_axes_are_refused(axis):
    with pytest.raises(eg.ShapeError, match="axis is None, an int or a tuple of ints, got"):
        eg.sum(eg.tensor("x", 2), axis=axis)


def test_a_repeated_sum_axis_is_refused():
    with pytest.raises(eg.ShapeError, match=r"axis \(0, -2\) names axis 0 twice"):
        eg.sum(eg.tensor("x", 2), axis=(0, -2))
    assert eg.sum(eg.tensor("x", 2), axis=[np.int64(-1)]).ndim == 1


def test_a_bad_backend_is_refused():
    with pytest.raises(eg.EinsumgradError, match=r"unknown backend=\[\]; choose one of numpy"):
        eg.compile(eg.tensor("x", 1), backend=[])


@pytest.mark.parametrize("options,message", [
    (dict(x="ab"), "check takes arrays of numbers; x='ab' is not one"),
    (dict(eps="a"), "check takes a finite number >= 0 for eps, got 'a'"),
    (dict(eps=0.0), "check needs a step eps > 0, got 0"),
    (dict(rtol=float("nan")), "check takes a finite number >= 0 for rtol, got nan"),
    (dict(seed=1.5), "check takes a whole number >= 0 for seed, got 1.5"),
    (dict(x=np.ones((2, 2))), r"tensor 'x' has rank 1, but its array has shape \(2, 2\)"),
])
def test_bad_check_arguments_are_refused(options, message):
    x = eg.tensor("x", 1)
    with pytest.raises(eg.EinsumgradError, match=message):
        eg.check(eg.sum(x * x), x, **{"x": np.ones(2), **options})


def test_check_needs_an_expression():
    x = eg.tensor("x", 1)
    with pytest.raises(eg.EinsumgradError, match="check needs an expression built with eg.tensor / eg.einsum, got"):
        eg.check(3.0, x, x=np.ones(2))


# -- coefficients -------------------------------------------------------------------
@pytest.mark.parametrize("build,message", [
    (lambda x: eg.sum(x) * 10**400, "a coefficient must be a finite number, got 10\\^400 or so"),
    (lambda x: 10**400 * x, "a coefficient must be a finite number, got 10\\^400 or so"),
    (lambda x: -(10**400) * x, "a coefficient must be a finite number, got -10\\^400 or so"),
    (lambda x: x * float("inf"), "a coefficient must be a finite number, got inf"),
    (lambda x: x - float("nan"), "a coefficient must be a finite number, got nan"),
    (lambda x: x / 10**-400, r"0.0 \*\* -1: 0.0 to a negative or complex power"),
    (lambda x: x ** 10**400, "an exponent must be a finite number, got 10\\^400 or so"),
    (lambda x: x ** float("nan"), "an exponent must be a finite number, got nan"),
    (lambda x: float("inf") ** x, "a coefficient must be a finite number, got inf"),
])
def test_coefficients_must_be_finite_numbers(build, message):
    with pytest.raises(eg.EinsumgradError, match=message):
        build(eg.tensor("x", 1))


def test_a_power_of_two_numbers_is_checked_before_it_is_computed():
    from einsumgrad.core.algebra import power

    with pytest.raises(eg.EinsumgradError, match=r"10 \*\* 10000000000: complex exponentiation"):
        power(10, 10**10)  # exactly, an integer of 10^10 digits
    assert eg.evaluate(power(2, 10) * eg.tensor("x", 1), x=np.ones(1)) == 1024.0


# -- the command line ------------------------------------------------------------------
@pytest.mark.parametrize("args,message", [
    (("grad", "sum(x * x)", "--wrt", "x", "--shapes", "x=100000000x100000000"),
     "--shapes asks for random arrays of 71.1 PiB, over the memory limit of"),
    (("grad", "sum(X @ x)", "--wrt", "x", "--shapes", "X=30000x30000,x=30000"),
     "--shapes asks for random arrays of 6.71 GiB, over the memory limit of"),
    (("jacobian", "ij,j->i", "--shapes", "30000x30000,30000"), "--shapes asks for random arrays of 6.71 GiB"),
    (("jacobian", "i->i", "--shapes", "x".join("1" * 65)), "has 65 axes, over NumPy's limit of 64"),
    (("grad", "sum(x * x)", "--wrt", "x", "--shapes", "x=2,x=3"), "--shapes gives x twice"),
    (("grad", "sum(x * x)", "--wrt", "x", "--shapes", "x=2,y=3"),
     "--shapes names y, which the expression does not read (it reads x)"),
    (("demo", "wx", "--plot", "/no/such/folder/slices.png"), "--plot /no/such/folder/slices.png: there is no folder"),
    (("demo", "wx", "--plot", "slices.bogus"), "--plot slices.bogus: matplotlib cannot write .bogus files; use one of"),
    (("demo", "wx", "--plot", "slices"), "--plot slices: the file name needs an extension"),
    (("demo", "trace", "--plot", "slices.png"), "demo 'trace' draws no plot: its answers are five n×n gradients"),
    (("jacobian", "ij,j->i", "--shapes", "2x2,2", "--seed", "-1"), "--seed takes a whole number >= 0, got -1"),
    (("grad", "sum(x)", "--wrt", "x", "--shapes", "x=2", "--seed", "-1"), "--seed takes a whole number >= 0, got -1"),
    (("jacobian", "ij,j->i", "--shapes", "2x2"), "einsum spec 'ij,j->i' takes 2 operands, got 1"),
])
def test_cli_guards_are_one_line_and_exit_2(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing is written into the repository if a guard fails
    assert main(list(args)) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("einsumgrad: error: ") and message in err, err
    assert out == "" and not list(tmp_path.iterdir())  # refused before any work


@pytest.mark.slow
def test_cli_plot_writes_the_file(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "slices.svg"
    assert main(["demo", "wx", "--plot", str(path)]) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    assert path.read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize("path", [[1], [(0, 1)], [(0, 9), (0, 1)]])
def test_a_bad_explicit_path_is_refused(path):
    A, B, C = eg.tensor("A", 2), eg.tensor("B", 2), eg.tensor("C", 2)
    f = eg.compile(eg.einsum("ij,jk,kl->il", A, B, C), optimize=path)
    with pytest.raises(eg.EinsumgradError, match=r"is not a contraction path for ab,bc,cd->ad: a path is a list of "
                                                 r"tuples of operand positions that contracts all 3 operands into "
                                                 r"one, such as \[\(0, 1\)\] \* 2"):
        f(A=np.ones((2, 2)), B=np.ones((2, 2)), C=np.ones((2, 2)))


def test_a_bad_formula_style_is_refused():
    with pytest.raises(eg.EinsumgradError, match=r"style=\[\]: choose one of unicode, subscript, ascii, latex"):
        J.formula(style=[])
