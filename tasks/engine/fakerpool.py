"""Faker values at numpy speed: a seeded pool of distinct values, sampled by index.

Row-wise Faker makes a few thousand values a second; a pool of at most ``POOL_SIZE`` values
sampled with numpy makes millions. Unique columns draw the pool without replacement and, when
the provider's domain is too small, extend it with numeric suffixes.
"""

from __future__ import annotations

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


def faker_pool(provider: str, locale: str, seed: int, size: int) -> np.ndarray:
    """Up to ``size`` distinct values (fewer when the provider's domain is smaller), deterministic per seed."""
    check_provider(provider, locale)
    fake = _faker(locale)
    fake.seed_instance(seed)
    make = getattr(fake, provider)
    values: dict[str, None] = {}
    attempts = 0
    # a provider with a small domain (state names) stops producing new values: give up after a while
    while len(values) < size and attempts < size * 3 + 50:
        values[str(make())] = None
        attempts += 1
    return np.array(list(values), dtype=object)


def faker_values(provider: str, locale: str, seed: int, n: int, unique: bool, rng: np.random.Generator) -> np.ndarray:
    """``n`` values; distinct when ``unique`` (suffixing ' 2', ' 3' ... once the pool runs out)."""
    if not unique:
        pool = faker_pool(provider, locale, seed, min(n, POOL_SIZE))
        return pool[rng.integers(0, len(pool), size=n)]
    pool = faker_pool(provider, locale, seed, min(n, 20 * POOL_SIZE))
    if len(pool) >= n:
        return pool[rng.permutation(len(pool))[:n]]
    if len(pool) < 2:
        raise GenerationError(
            f"Faker provider '{provider}' gives only {len(pool)} distinct value(s); it cannot fill a unique "
            f"column of {n} rows. Drop 'unique' or use a sequence generator"
        )
    rounds = -(-n // len(pool))
    base = np.tile(pool, rounds)[:n]
    suffix = np.repeat(np.arange(1, rounds + 1), len(pool))[:n]
    return _suffixed(base, suffix)[rng.permutation(n)]


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
