"""Faker values at numpy speed: a seeded pool of distinct values, sampled by index.

Row-wise Faker makes a few thousand values a second; a pool of at most ``POOL_SIZE`` values
sampled with numpy makes millions. Unique columns draw the pool without replacement and, when
the provider's domain is too small, extend it with numeric suffixes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
from faker import Faker

from schemas.errors import GenerationError

POOL_SIZE = 2_000

# providers a spec may name: public value makers only (a spec may come from a language model)
ALLOWED_PROVIDERS = frozenset(
    [
        "name",
        "first_name",
        "last_name",
        "name_male",
        "name_female",
        "first_name_male",
        "first_name_female",
        "prefix",
        "suffix",
        "email",
        "free_email",
        "safe_email",
        "company_email",
        "user_name",
        "company",
        "company_suffix",
        "catch_phrase",
        "bs",
        "job",
        "city",
        "state",
        "state_abbr",
        "country",
        "country_code",
        "street_address",
        "street_name",
        "address",
        "postcode",
        "zipcode",
        "building_number",
        "secondary_address",
        "phone_number",
        "msisdn",
        "url",
        "domain_name",
        "ipv4",
        "ipv6",
        "mac_address",
        "uuid4",
        "license_plate",
        "iban",
        "bban",
        "credit_card_provider",
        "credit_card_number",
        "currency_code",
        "word",
        "sentence",
        "text",
        "color_name",
        "hex_color",
        "file_name",
        "isbn13",
        "ean13",
        "sha1",
        "date_of_birth",
    ]
)


@lru_cache(maxsize=32)
def _faker(locale: str) -> Faker:
    try:
        return Faker(locale)
    except AttributeError:
        raise GenerationError(f"Faker has no locale '{locale}'; use e.g. en_US, en_IN, en_GB, de_DE") from None


def check_provider(provider: str, locale: str) -> None:
    """Raise a clear error for a provider that does not exist or is not allowed."""
    fake = _faker(locale)
    if provider not in ALLOWED_PROVIDERS or not callable(getattr(fake, provider, None)):
        raise GenerationError(
            f"Faker provider '{provider}' is not available; use one of: {', '.join(sorted(ALLOWED_PROVIDERS))}"
        )


@lru_cache(maxsize=64)
def faker_pool(provider: str, locale: str, seed: int, size: int) -> np.ndarray:
    """Up to ``size`` distinct values (fewer when the provider's domain is smaller), deterministic per seed.

    Cached per process: every chunk of a table reuses the one pool instead of calling Faker again.
    """
    check_provider(provider, locale)
    fake = Faker(locale)  # a private instance: seeding the shared one would race between threads
    fake.seed_instance(seed)
    make = getattr(fake, provider)
    elements = _element_list(make, provider)
    if elements is not None:
        return _draw_elements(elements, seed, size)
    values: dict[str, None] = {}
    attempts = 0
    # a provider with a small domain (state names) stops producing new values: give up after a while
    while len(values) < size and attempts < size * 3 + 50:
        values[str(make())] = None
        attempts += 1
    pool = np.array(list(values), dtype=object)
    pool.setflags(write=False)
    return pool


# providers that are exactly ``random_element(self.<list>)`` in Faker's base providers: their pool is
# drawn from the list with numpy (weights kept) instead of thousands of Faker calls
ELEMENT_LISTS = {
    "first_name": "first_names",
    "last_name": "last_names",
    "first_name_male": "first_names_male",
    "first_name_female": "first_names_female",
    "state": "states",
    "country": "countries",
    "job": "jobs",
    "company_suffix": "company_suffixes",
}


def _element_list(make, provider: str) -> Sequence | Mapping | None:
    """The list ``make`` picks from, when the locale keeps the base provider's ``random_element`` method."""
    attribute = ELEMENT_LISTS.get(provider)
    func = getattr(make, "__func__", None)
    owner = getattr(make, "__self__", None)
    if attribute is None or func is None or owner is None:
        return None
    # a locale that overrides the method (a module below faker.providers.<kind>) builds values its own way
    if func.__module__.count(".") != 2 or func.__qualname__ != f"Provider.{provider}":
        return None
    elements = getattr(owner, attribute, None)
    return elements if isinstance(elements, (Sequence, Mapping)) and len(elements) else None


def _draw_elements(elements: Sequence | Mapping, seed: int, size: int) -> np.ndarray:
    """Up to ``size`` distinct elements drawn without replacement, by their weights when Faker gives some."""
    weights: dict[str, float] = {}
    pairs = elements.items() if isinstance(elements, Mapping) else ((e, 1.0) for e in elements)
    for value, weight in pairs:
        weights[str(value)] = weights.get(str(value), 0.0) + float(weight)
    names = np.array(list(weights), dtype=object)
    p = np.fromiter(weights.values(), dtype=float, count=len(weights))
    take = min(size, len(names))
    chosen = np.random.default_rng(seed).choice(len(names), size=take, replace=False, p=p / p.sum())
    pool = names[chosen]
    pool.setflags(write=False)
    return pool


def pool_size(n_total: int, unique: bool) -> int:
    """How many distinct Faker values a column of ``n_total`` rows draws from."""
    return min(n_total, 20 * POOL_SIZE if unique else POOL_SIZE)


def faker_values(provider: str, locale: str, seed: int, rows: np.ndarray, n_total: int, unique: bool, rng) -> pd.Series:
    """Values for global row numbers ``rows`` of a column of ``n_total`` rows.

    Not unique: a categorical over the pool (cheap in memory, string functions run on the pool).
    Unique: row r takes slot ``j = (a r + c) mod n_total`` of a seeded bijection; slot j is pool value
    ``j mod P`` with suffix ``j // P + 1`` ('Ann Lee 2', 'ann2@x.com'), so values stay distinct
    whatever the chunking.

    Raises:
        GenerationError: a unique column whose provider yields fewer than 2 distinct values.
    """
    pool = faker_pool(provider, locale, seed, max(1, pool_size(n_total, unique)))
    if not unique:
        codes = rng.integers(0, len(pool), len(rows))
        return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(pool, dtype=object)))
    check_unique_domain(provider, len(pool), n_total)
    a, c = _bijection(seed, n_total)
    slots = (a * np.asarray(rows, dtype=object if n_total > 2**31 else np.int64) + c) % n_total
    slots = slots.astype(np.int64)
    base = pool[slots % len(pool)]
    suffix = slots // len(pool) + 1
    if (suffix == 1).all():
        return pd.Series(base, dtype=object)
    return pd.Series(_suffixed(base, suffix), dtype=object)


def check_unique_domain(provider: str, distinct: int, n_total: int) -> None:
    if distinct < n_total and distinct < 2:
        raise GenerationError(
            f"Faker provider '{provider}' gives only {distinct} distinct value(s); it cannot fill a unique "
            f"column of {n_total} rows. Drop 'unique' or use a sequence generator"
        )


def _bijection(seed: int, n: int) -> tuple[int, int]:
    """``a`` coprime with ``n`` and an offset ``c``: ``r -> (a r + c) mod n`` permutes 0..n-1."""
    rng = np.random.default_rng(seed)
    if n <= 2:
        return 1, int(rng.integers(0, n))
    while True:
        a = int(rng.integers(1, n))
        if math.gcd(a, n) == 1:
            return a, int(rng.integers(0, n))


def _suffixed(base: np.ndarray, suffix: np.ndarray) -> np.ndarray:
    """'Ann Lee' -> 'Ann Lee 2'; 'ann@x.com' -> 'ann2@x.com' (an email stays an email)."""
    text = pd.Series(base.astype(str))
    tag = pd.Series(suffix.astype(str))
    parts = text.str.split("@", n=1, expand=True)
    if parts.shape[1] == 2:
        with_at = parts[0] + tag + "@" + parts[1]
        plain = text + " " + tag
        out = with_at.where(parts[1].notna(), plain)
    else:
        out = text + " " + tag
    return np.where(suffix == 1, base, out.to_numpy(dtype=object))
