"""The per-process answer cache: least recently used answers go first, one answer per owner,
and ``max_bytes`` bounds the memory it really holds (its Python objects included)."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, datetime

import numpy as np

from gridsvc.api.caching import ENTRY_OVERHEAD, AnswerCache, Prepared, prepare
from gridsvc.config import Settings

# mean gzipped /me/assignments answer of 200 random grids of the 1M city (database load1m)
CITY_ANSWER_BYTES = 1_483


def _answer(worker: int, households: int = 40) -> tuple[str, tuple[object, ...], Prepared]:
    """A worker's owner key, version and answer shaped like ``/me/assignments`` (a grid's
    households with ids, lon/lat, names and phones; worker_sync's version tuple)."""
    rng = np.random.default_rng(worker)
    rows = [
        [
            f"H{worker:05d}{i:03d}",
            round(112.9 + rng.random() / 50, 7),
            round(35.8 + rng.random() / 50, 7),
            f"户主{i}",
            f"138****{rng.integers(10_000):04d}",
            "独居老人" if i % 7 == 0 else "",
        ]
        for i in range(households)
    ]
    body = json.dumps({"households": {"rows": rows}}, ensure_ascii=False).encode()
    owner = f"w{worker:05d}"
    at = datetime(2026, 11, 22, 8, tzinfo=UTC)
    version = (
        owner,
        f"W{worker}",
        (f"G{worker:06d}",),
        ((f"G{worker:06d}", "grid_member", at),),
        (("110101001001", worker),),
    )
    return owner, version, prepare(body)


def test_least_recently_used_answers_are_evicted_first() -> None:
    answers = [_answer(i) for i in range(5)]
    size = max(p.size for _, _, p in answers)
    cache = AnswerCache(3 * size)
    for owner, version, prepared in answers[:3]:
        cache.put(owner, version, prepared)
    assert cache.get(answers[0][0], answers[0][1]) is answers[0][2]  # 0 is now the most recent
    cache.put(*answers[3])
    assert len(cache) == 3
    assert cache.get(answers[1][0], answers[1][1]) is None  # the least recently used went
    assert all(cache.get(o, v) is p for o, v, p in (answers[0], answers[2], answers[3]))
    cache.put(*answers[4])
    assert cache.get(answers[0][0], answers[0][1]) is None
    assert sum(p.size for _, _, p in answers[2:]) <= cache.max_bytes


def test_an_owner_holds_one_answer_and_an_old_version_is_never_returned() -> None:
    owner, version, prepared = _answer(1)
    cache = AnswerCache(10 * prepared.size)
    cache.put(owner, version, prepared)
    newer = (*version[:4], (("110101001001", 99),))
    cache.put(owner, newer, _answer(2)[2])
    assert len(cache) == 1
    assert cache.get(owner, version) is None
    assert cache.get(owner, newer) is not None
    too_big = _answer(3, households=2_000)[2]
    small = AnswerCache(too_big.size - 1)
    small.put(owner, version, too_big)  # refused: it alone is over the bound
    assert len(small) == 0 and small.get(owner, version) is None


def test_max_bytes_bounds_the_memory_really_held() -> None:
    """Ten times more answers than fit: the cache keeps about max_bytes of memory, measured by
    tracemalloc, so ENTRY_OVERHEAD is an honest count of each answer's Python objects."""
    one = _answer(0)[2].size
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cache = AnswerCache(200 * one)
        for i in range(2_000):
            cache.put(*_answer(i))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 190 <= len(cache) <= 200
    assert held <= cache.max_bytes, f"{held} bytes held for max_bytes {cache.max_bytes}"
    assert held >= 0.75 * cache.max_bytes, f"overhead overstated: {held} of {cache.max_bytes}"
    assert one > ENTRY_OVERHEAD


def test_the_default_holds_a_million_household_citys_workers() -> None:
    """One answer per grid worker of a 1M city: 25,000 grids × 2 phone users (grid leader
    and full-time worker, the 1+1+N teams), at the size measured on the 1M city."""
    per_answer = CITY_ANSWER_BYTES + ENTRY_OVERHEAD
    assert Settings().answer_cache_mb * 2**20 >= 50_000 * per_answer
