"""Phase 1 entry point: pick the designer by configuration and design a challenge.

Contract: ``design(...) -> Design``. The LLM designer runs when an LLM key
(``DATAFACTORY_LLM_API_KEY`` or ``OPENAI_API_KEY``) or a base URL (``DATAFACTORY_LLM_BASE_URL``) is
configured; otherwise the offline designer runs. ``Design.designer`` says which one ran
(``offline`` or ``llm:<model>``). LLM errors are raised, never silently replaced by the offline
designer, so a misconfiguration is seen.
"""

from __future__ import annotations

from schemas.spec import ChallengeSpec
from tasks.designer_llm import design_llm, llm_config
from tasks.designer_offline import Design, design_offline
from tasks.settings import Settings, get_settings


def chosen_designer(settings: Settings | None = None) -> str:
    """``llm`` when an LLM key or base URL is configured, else ``offline``."""
    return "llm" if llm_config(settings or get_settings()) is not None else "offline"


def design(
    brief: str,
    *,
    domain: str | None = None,
    rows: int = 10_000,
    seed: int = 42,
    variant: int = 0,
    locale: str | None = None,
    feedback: str | None = None,
    attempt: int = 0,
    previous: ChallengeSpec | None = None,
    settings: Settings | None = None,
) -> Design:
    """Design a challenge with the configured designer.

    Args:
        brief: the business brief.
        domain: force a library domain (``--domain``).
        rows: rows of the main fact table.
        seed: reproducibility of the design and the data.
        variant: same story, different numbers.
        locale: ``en_US`` or ``en_IN`` (``--locale``); detected from the brief when omitted.
        feedback: the reviewer's words from a gate.
        attempt: regeneration count.
        previous: the spec the reviewer saw (feedback is applied to it).
        settings: runtime settings; read from the environment when omitted.

    Raises:
        InputError: bad brief, rows, domain or locale.
        LLMConfigError, LLMDesignError: the LLM path is configured but fails (see ``tasks.designer_llm``).
    """
    settings = settings or get_settings()
    if chosen_designer(settings) == "llm" and settings.llm_design == "parts" and previous is None:
        from tasks.design.parts_llm import design_llm_parts

        return design_llm_parts(
            brief,
            config=llm_config(settings),
            rows=rows,
            seed=seed,
            variant=variant,
            locale=locale,
            domain=domain,
            feedback=feedback,
            attempt=attempt,
        )
    if chosen_designer(settings) == "llm":
        return design_llm(
            brief,
            domain=domain,
            rows=rows,
            seed=seed,
            variant=variant,
            locale=locale,
            feedback=feedback,
            attempt=attempt,
            previous=previous,
            settings=settings,
        )
    return design_offline(
        brief,
        domain=domain,
        rows=rows,
        seed=seed,
        variant=variant,
        locale=locale,
        feedback=feedback,
        attempt=attempt,
        previous=previous,
    )
