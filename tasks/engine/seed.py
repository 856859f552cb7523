"""Derived seeds: every random stream comes from (challenge seed, variant, names), never the global RNG.

Same inputs -> same stream on every machine and in every process, whatever the order of work.
"""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(seed: int, variant: int, *parts: object) -> int:
    """A 64-bit seed for one stream, stable across runs and platforms."""
    text = "\x1f".join([str(seed), str(variant), *map(str, parts)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def rng_for(seed: int, variant: int, *parts: object) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, variant, *parts))
