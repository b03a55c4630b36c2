"""The compile package in parts: the cache type, plans without arrays, kernels on arrays."""
import threading

import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad import caches


# -- the one cache type ------------------------------------------------------------
def test_a_cache_is_bounded_and_forgets_the_least_recently_used():
    calls = []

    @caches.cache(maxsize=2)
    def double(n):
        calls.append(n)
        return 2 * n

    assert [double(1), double(2), double(1), double(3)] == [2, 4, 2, 6]  # 3 evicts 2, used least recently
    assert len(double.cache) == 2
    assert double(1) == 2 and double(2) == 4
    assert calls == [1, 2, 3, 2]


def test_a_bound_given_as_a_function_is_read_at_every_insert():
    bound = [3]
    store = caches.LRU(lambda: bound[0])
    for k in range(5):
        store.insert(k, k)
    assert len(store) == 3 and store.get(0) is None and store.get(4) == 4
    bound[0] = 1
    store.insert(5, 5)
    assert len(store) == 1 and store.get(5) == 5


def test_threads_filling_one_cache_agree_and_keep_the_bound():
    store = caches.LRU(64)
    results: list = []

    def work(seed):
        for k in range(2000):
            key = (k * 7 + seed) % 100
            got = store.get(key)
            results.append(got is None or got == (key, "value"))
            store.insert(key, (key, "value"))

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results) and len(store) == 64


def test_racing_inserts_of_one_key_return_the_first_value():
    store = caches.LRU(4)
    first, second = object(), object()
    assert store.insert("k", first) is first
    assert store.insert("k", second) is first


def test_a_recursive_function_can_be_cached():
    @caches.cache(maxsize=8)
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    assert fib(30) == 832040  # fast only because it is cached; bounded, so some entries are recomputed


def test_clear_all_empties_every_cache_with_no_list():
    @caches.cache(maxsize=4)
    def square(n):
        return n * n

    square(2)
    W = eg.tensor("W", 2)
    f = eg.compile(eg.sum(W * W))
    f(W=np.ones((2, 2)))
    from einsumgrad.ir import variables

    assert len(square.cache) == 1 and len(variables.cache) > 0
    eg.clear_caches()
    assert len(square.cache) == 0 and len(variables.cache) == 0
