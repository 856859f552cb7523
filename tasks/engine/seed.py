"""Derived seeds: every random stream comes from (challenge seed, variant, names), never the global RNG.

Row-level draws go through ``BlockRng``: rows are cut into fixed blocks of ``BLOCK_ROWS`` and each
block has its own stream ``(seed, variant, table, column, ..., block)``. Chunks are whole blocks,
so a row's value does not depend on how the table is cut into chunks or which worker runs them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np

from schemas.errors import GenerationError

# rows per random block; chunk sizes are rounded up to a multiple of it
BLOCK_ROWS = 16_384


def derive_seed(seed: int, variant: int, *parts: object) -> int:
    """A 64-bit seed for one stream, stable across runs and platforms."""
    text = "\x1f".join([str(seed), str(variant), *map(str, parts)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def rng_for(seed: int, variant: int, *parts: object) -> np.random.Generator:
    """One table-wide stream (for draws that are not per row: popularity, pools, counts)."""
    return np.random.default_rng(derive_seed(seed, variant, *parts))


class BlockRng:
    """Per-row random draws for ``rows`` (sorted global row numbers), one stream per block.

    Mirrors the ``numpy.random.Generator`` methods the engine uses; every call must ask for
    exactly ``len(rows)`` values. Successive calls continue the same per-block streams.
    """

    def __init__(self, seed: int, variant: int, parts: Sequence[object], rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        self.size = len(rows)
        if self.size:
            blocks = rows // BLOCK_ROWS
            cuts = np.flatnonzero(np.diff(blocks)) + 1
            starts = np.concatenate([[0], cuts])
            self._counts = np.diff(np.concatenate([starts, [self.size]])).tolist()
            ids = blocks[starts].tolist()
        else:
            self._counts, ids = [], []
        self._gens = [np.random.default_rng(derive_seed(seed, variant, *parts, "block", b)) for b in ids]

    def _draw(self, size: int, make: Callable[[np.random.Generator, int], np.ndarray]) -> np.ndarray:
        if size != self.size:
            raise GenerationError(f"asked for {size} random values for {self.size} rows (engine bug)")
        if not self._gens:
            return make(np.random.default_rng(0), 0)
        parts = [make(g, k) for g, k in zip(self._gens, self._counts, strict=True)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def random(self, size: int) -> np.ndarray:
        return self._draw(size, lambda g, k: g.random(k))

    def integers(self, low: int, high: int, size: int) -> np.ndarray:
        return self._draw(size, lambda g, k: g.integers(low, high, k))

    def normal(self, loc: float, scale: float, size: int) -> np.ndarray:
        return self._draw(size, lambda g, k: g.normal(loc, scale, k))

    def lognormal(self, mean: float, sigma: float, size: int) -> np.ndarray:
        return self._draw(size, lambda g, k: g.lognormal(mean, sigma, k))

    def uniform(self, low: float, high: float, size: int) -> np.ndarray:
        return self._draw(size, lambda g, k: g.uniform(low, high, k))

    def poisson(self, lam: float, size: int) -> np.ndarray:
        return self._draw(size, lambda g, k: g.poisson(lam, k))

    def pareto(self, a: float, size: int) -> np.ndarray:
        return self._draw(size, lambda g, k: g.pareto(a, k))

    def exponential(self, scale: float, size: int) -> np.ndarray:
        return self._draw(size, lambda g, k: g.exponential(scale, k))

    def gamma(self, shape: float, scale: float, size: int) -> np.ndarray:
        return self._draw(size, lambda g, k: g.gamma(shape, scale, k))

    def triangular(self, left: float, mode: float, right: float, size: int) -> np.ndarray:
        return self._draw(size, lambda g, k: g.triangular(left, mode, right, k))

    def choice(self, a, size: int, p: np.ndarray | None = None) -> np.ndarray:
        """Like ``Generator.choice`` with replacement; weighted draws by inverse CDF (row-local)."""
        k = a if isinstance(a, (int, np.integer)) else len(a)
        weights = None if p is None else np.asarray(p, dtype=float)
        index = self.integers(0, k, size) if weights is None else pick_weighted(weights, self.random(size))
        return index if isinstance(a, (int, np.integer)) else np.asarray(a)[index]


def pick_weighted(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Indices drawn with ``weights`` from uniforms ``u`` in [0, 1): one searchsorted, no loop."""
    cdf = np.cumsum(weights, dtype=float)
    cdf /= cdf[-1]
    if len(cdf) <= 8:  # a few categories: counting the cut points below u is searchsorted's answer, faster
        index = np.zeros(len(u), dtype=np.int64)
        for cut in cdf:
            index += u >= cut
        return np.minimum(index, len(weights) - 1)
    if len(cdf) <= BUCKETS // 8 and len(u) >= BUCKETS // 4:
        return np.minimum(_bucketed_search(cdf, u), len(weights) - 1)
    return np.minimum(search(cdf, u, side="right"), len(weights) - 1)


BUCKETS = 1 << 16  # a power of two: u * BUCKETS is exact, so a bucket never misplaces a draw


def _bucketed_search(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``np.searchsorted(cdf, u, side="right")`` for ``u`` in [0, 1), exactly, 3-5x faster for a few thousand weights.

    [0, 1) is cut into equal buckets; where no cut point of ``cdf`` falls inside a draw's bucket, the
    answer is the bucket's; the few draws in buckets that hold a cut point are searched as usual.
    """
    edges = np.arange(BUCKETS + 1, dtype=float) / BUCKETS
    low = np.searchsorted(cdf, edges[:-1], side="right")  # the answer at the bucket's left edge
    high = np.searchsorted(cdf, edges[1:], side="left")  # the answer just below its right edge
    bucket = (u * BUCKETS).astype(np.int64)
    out = low[bucket]
    mixed = np.flatnonzero((low != high)[bucket])
    out[mixed] = np.searchsorted(cdf, u[mixed], side="right")
    return out


def search(sorted_values: np.ndarray, queries: np.ndarray, side: str = "left") -> np.ndarray:
    """``np.searchsorted``, with the queries sorted first when the array is large.

    Same answers; sorted queries walk the array in order instead of missing the cache on every
    binary search, which made big parent tables (millions of customers) superlinearly slow.
    """
    queries = np.asarray(queries)
    if len(sorted_values) < 1 << 16 or len(queries) < 1 << 12:
        return np.searchsorted(sorted_values, queries, side=side)
    order = np.argsort(queries)  # ties get the same answer: no need for a stable sort
    out = np.empty(len(queries), dtype=np.intp)
    out[order] = np.searchsorted(sorted_values, queries[order], side=side)
    return out
