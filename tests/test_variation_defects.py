"""Regression tests for the variation's draws: the scenarios kept, and question ids after selection."""

from __future__ import annotations

import random

import pytest

from schemas.serialize import spec_from_data, spec_to_data
from tasks.designer_offline import design_offline
from tasks.domains import get_blueprint
from tasks.variation import choose_questions, choose_scenarios


def _data(scenarios: int, questions: int) -> dict:
    """Spec-shaped data with ``scenarios`` optional scenarios, each revealed by one of the first questions."""
    return {
        "scenarios": [{"name": f"s{i}", "optional": True} for i in range(scenarios)],
        "questions": [
            {"id": f"q{i + 1:02d}", **({"scenario": f"s{i}"} if i < scenarios else {})} for i in range(questions)
        ],
    }


@pytest.mark.parametrize("count", [2, 3, 5])
def test_choose_scenarios_always_keeps_at_least_one(count: int) -> None:
    """One subset drawn once: a fresh sample per scenario left none in about 1 run in 8."""
    kept_sizes = set()
    for seed in range(400):
        data = _data(count, 12)
        choose_scenarios(data, random.Random(seed), min_questions=4)
        kept = {s["name"] for s in data["scenarios"]}
        assert kept, f"seed {seed}: no scenario planted"
        assert {q["scenario"] for q in data["questions"] if q.get("scenario")} <= kept
        kept_sizes.add(len(kept))
    assert kept_sizes == set(range(1, count + 1))  # every subset size still occurs


def test_choose_scenarios_keeps_a_blueprint_scenario_for_every_seed() -> None:
    data = spec_to_data(get_blueprint("telecom").spec)
    for seed in range(200):
        trial = {"scenarios": [dict(s) for s in data["scenarios"]], "questions": [dict(q) for q in data["questions"]]}
        choose_scenarios(trial, random.Random(seed), min_questions=8)
        assert trial["scenarios"], f"seed {seed}: no scenario planted"


def test_choose_questions_renumbers_the_kept_questions_in_order() -> None:
    for seed in range(50):
        data = _data(3, 14)
        texts = {q["id"]: i for i, q in enumerate(data["questions"])}
        for question in data["questions"]:
            question["text"] = f"original {question['id']}"
        choose_questions(data, 5, 9, random.Random(seed))
        ids = [q["id"] for q in data["questions"]]
        assert ids == [f"q{i:02d}" for i in range(1, len(ids) + 1)]
        originals = [texts[q["text"].split()[-1]] for q in data["questions"]]
        assert originals == sorted(originals)  # the blueprint's order is kept
        # every scenario keeps the question that reveals it, under its new id
        assert {q["scenario"] for q in data["questions"] if q.get("scenario")} == {"s0", "s1", "s2"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_designed_question_ids_are_the_numbers_a_learner_sees(seed: int) -> None:
    """questions.txt and the README number questions 1, 2, 3 ...: the ids say the same."""
    spec = design_offline("A mobile operator wants to understand ARPU and churn", seed=seed, domain="telecom").spec
    assert [q.id for q in spec.questions] == [f"q{i:02d}" for i in range(1, len(spec.questions) + 1)]
    planted = {s.name for s in spec.scenarios}
    assert planted and all(q.scenario in planted for q in spec.questions if q.scenario)
    spec_from_data(spec_to_data(spec))  # still a valid spec
