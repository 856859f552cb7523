"""Approval gates: the decision model a person fills in, and the policy that waits or decides.

``manual`` pauses the flow run with ``pause_flow_run(wait_for_input=GateInput)``; the run is
resumed from the UI's form, ``datafactory approve`` or the API. ``auto`` approves when the
phase's checks pass and fails the run with the reason when they do not.
"""

from __future__ import annotations

from typing import Literal

from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from pydantic import Field

from schemas.errors import ChecksFailed
from schemas.serialize import spec_from_yaml
from schemas.spec import ChallengeSpec

GATES = {1: "problem statement and questions", 2: "schema and validation", 3: "preview"}


class GateInput(RunInput):
    """Review the artifacts of this phase, then approve, ask for a regeneration, or reject.

    To edit the challenge directly, paste the full spec YAML (from the phase's 'challenge spec'
    artifact) into spec_yaml; it is validated before it is used.
    """

    decision: Literal["approve", "regenerate", "reject"] = Field(
        "approve", description="approve: go on; regenerate: redo this phase with the feedback; reject: stop the run"
    )
    feedback: str = Field("", description="what to change (regenerate) or why (reject)")
    spec_yaml: str | None = Field(None, description="optional: an edited challenge spec (YAML) to use instead")

    def edited_spec(self) -> ChallengeSpec | None:
        """The edited spec, validated; ``SpecError`` lists every problem of an invalid edit."""
        return spec_from_yaml(self.spec_yaml) if self.spec_yaml and self.spec_yaml.strip() else None


def gate_key(gate: int, attempt: int) -> str:
    return f"gate-{gate}-attempt-{attempt}"


def decide(
    gate: int,
    attempt: int,
    *,
    approval: Literal["auto", "manual"],
    checks_passed: bool,
    reason: str,
    timeout: int,
    poll_interval: float,
    suspend: bool = False,
) -> GateInput:
    """The decision at a gate, from the policy (auto) or from a person (manual).

    A deployment run is suspended instead of paused, so a gate that waits for days holds no
    worker: on resume the flow starts again from the top, its phases come from the task cache
    and the gates already answered return their stored decision (same key).

    Raises:
        ChecksFailed: auto approval and the phase's checks did not pass.
    """
    if approval == "auto":
        if not checks_passed:
            raise ChecksFailed(f"gate {gate} ({GATES[gate]}) refused automatic approval: {reason}")
        return GateInput(decision="approve")
    from flows.events import emit

    emit("gate-waiting", gate=gate, name=GATES[gate], attempt=attempt, checks_passed=checks_passed, reason=reason)
    form = GateInput.with_initial_data(
        description=f"Gate {gate} of 3: {GATES[gate]}. Checks: {'passed' if checks_passed else reason}",
        decision="approve" if checks_passed else "regenerate",
    )
    if suspend:
        return suspend_flow_run(wait_for_input=form, timeout=timeout, key=gate_key(gate, attempt))
    return pause_flow_run(
        wait_for_input=form, timeout=timeout, poll_interval=max(1, int(poll_interval)), key=gate_key(gate, attempt)
    )
