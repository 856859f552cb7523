"""Approval gates: the decision form a person fills in, and the policy that waits or decides.

``manual`` pauses the flow run with ``pause_flow_run(wait_for_input=...)`` (a deployment run is
suspended instead); the run is resumed from the UI's form, ``datafactory approve`` or the API.
``auto`` approves when the phase's checks pass and fails the run with the reason when they do not.

The form's JSON schema is what the Prefect UI draws: ``decision`` is required (a select),
``feedback`` and ``spec_yaml`` are plain text boxes (strings, never ``str | None``, which the UI
shows as a type toggle). The form's description is markdown: the gate, what its checks found and,
after a refused edit, why the edit was refused.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Literal

import prefect.flow_runs as _flow_runs
import pydantic
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from pydantic import ConfigDict, Field

from schemas.errors import ChecksFailed, DataFactoryError
from schemas.serialize import spec_from_yaml
from schemas.spec import ChallengeSpec

GATES = {1: "problem statement and questions", 2: "schema and validation", 3: "preview"}
Decision = Literal["approve", "regenerate", "reject"]

# pause_flow_run and suspend_flow_run take no state message; the Paused/Suspended state they propose takes one
# from here, so the run's state in the UI and `datafactory status` says why it waits (a context variable:
# runs waiting in other threads keep their own message)
_PAUSE_MESSAGE: ContextVar[str | None] = ContextVar("datafactory_pause_message", default=None)


def _with_pause_message(factory: Callable[..., Any]) -> Callable[..., Any]:
    if getattr(factory, "datafactory_message", False):
        return factory

    @functools.wraps(factory)
    def make(*args: Any, **kwargs: Any) -> Any:
        message = _PAUSE_MESSAGE.get()
        if message and "message" not in kwargs:
            kwargs["message"] = message
        return factory(*args, **kwargs)

    make.datafactory_message = True  # type: ignore[attr-defined]
    return make


_flow_runs.Paused = _with_pause_message(_flow_runs.Paused)
_flow_runs.Suspended = _with_pause_message(_flow_runs.Suspended)


def pause_message(gate: int, attempt: int, *, checks_passed: bool, reason: str, refused: str | None) -> str:
    """The paused state's message: the gate, and a refused edit or failed checks first when there is one."""
    text = f"Waiting at gate {gate} ({GATES[gate]}), attempt {attempt}"
    if refused:
        return f"{text}: your edited spec was refused and the reviewed spec is kept ({refused.splitlines()[0]})"
    if not checks_passed:
        return f"{text}: the checks did not pass ({reason})"
    return text


def _decision_required(schema: dict[str, Any]) -> None:
    # the decision has a default (the UI pre-selects it) yet must be sent: the UI marks it required
    schema["required"] = sorted({*schema.get("required", []), "decision"})


class GateInput(RunInput):
    """Review the artifacts of this phase, then approve, ask for a regeneration, or reject.

    To edit the challenge directly, paste the full spec YAML (from the phase's 'spec' artifact)
    into spec_yaml; it is validated before it is used, and a refused edit reopens the gate.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_decision_required)

    decision: Decision = Field(
        "approve",
        title="Decision",
        description="approve: go on; regenerate: redo this phase with the feedback; reject: stop the run",
    )
    feedback: str = Field("", title="Feedback", description="what to change (regenerate) or why (reject)")
    spec_yaml: str = Field(
        "",
        title="Spec YAML",
        description="optional: the whole edited challenge spec (YAML) to use instead; leave empty to keep it",
    )

    def edited_spec(self) -> ChallengeSpec | None:
        """The edited spec, validated and generable; ``SpecError`` lists every problem of an invalid edit.

        Generable: the engine's feasibility check passes, so an approved edit cannot end the run later.
        """
        if not self.spec_yaml.strip():
            return None
        spec = spec_from_yaml(self.spec_yaml)
        from schemas.errors import SpecError
        from tasks.schema_check import generation_problems

        problems = generation_problems(spec)
        if problems:
            raise SpecError("the edited spec " + "; ".join(problems), problems=problems)
        return spec


def gate_key(gate: int, attempt: int) -> str:
    return f"gate-{gate}-attempt-{attempt}"


def gate_form(description: str, decision: Decision) -> type[GateInput]:
    """``GateInput`` with ``decision`` pre-selected and ``description`` shown above the form.

    Unlike ``RunInput.with_initial_data`` (which re-declares the field from its annotation alone),
    this keeps the field's title and description in the form.
    """
    field = GateInput.model_fields["decision"]
    form = pydantic.create_model(
        "GateInput",
        __base__=GateInput,
        decision=(Decision, Field(decision, title=field.title, description=field.description)),
    )
    form._description = description
    return form


def form_description(gate: int, attempt: int, *, checks_passed: bool, reason: str, refused: str | None) -> str:
    """The markdown above the Resume form: which gate, what the checks found, a refused edit and why."""
    lines = [f"**Gate {gate} of 3: {GATES[gate]}** (attempt {attempt + 1})", ""]
    if refused:
        lines += [
            "**Your edited spec was refused; the reviewed spec is kept, unchanged.**",
            "",
            "```",
            refused,
            "```",
            "",
            "Fix the YAML and submit it again, or approve, regenerate or reject the spec shown.",
            "",
        ]
    lines.append("Checks: passed." if checks_passed else f"Checks FAILED: {reason}")
    lines += ["", f"Artifacts of this attempt: keys starting with `{gate_key(gate, attempt)}` (keys count from 0)."]
    return "\n".join(lines)


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
    refused: str | None = None,
) -> GateInput:
    """The decision at a gate, from the policy (auto) or from a person (manual).

    A deployment run is suspended instead of paused, so a gate that waits for days holds no
    worker: on resume the flow starts again from the top, its phases come from the task cache
    and the gates already answered return their stored decision (same key).

    Args:
        reason: why the checks failed; only said when ``checks_passed`` is false.
        refused: the error of an edit refused at the previous attempt, shown in the form.

    Raises:
        ChecksFailed: auto approval and the phase's checks did not pass.
    """
    if approval == "auto":
        if not checks_passed:
            raise ChecksFailed(f"gate {gate} ({GATES[gate]}) refused automatic approval: {reason}")
        return GateInput(decision="approve")
    from flows.events import emit

    said = {"reason": reason} if not checks_passed else {}
    emit("gate-waiting", gate=gate, name=GATES[gate], attempt=attempt, checks_passed=checks_passed, **said)
    if refused:
        emit("gate-reopened", gate=gate, attempt=attempt, refused_edit=refused.splitlines()[0])
    form = gate_form(
        form_description(gate, attempt, checks_passed=checks_passed, reason=reason, refused=refused),
        "approve" if checks_passed else "regenerate",
    )
    token = _PAUSE_MESSAGE.set(
        pause_message(gate, attempt, checks_passed=checks_passed, reason=reason, refused=refused)
    )
    try:
        if suspend:
            return suspend_flow_run(wait_for_input=form, timeout=timeout, key=gate_key(gate, attempt))
        return pause_flow_run(
            wait_for_input=form, timeout=timeout, poll_interval=max(1, int(poll_interval)), key=gate_key(gate, attempt)
        )
    finally:
        _PAUSE_MESSAGE.reset(token)


def fired_gates(flow_run_id: str | uuid.UUID | None) -> set[str]:
    """Pause keys this run has already reached (its gates answered before a suspended run started again)."""
    if not flow_run_id or flow_run_id == "local":
        return set()
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(uuid.UUID(str(flow_run_id)))
    return set(run.empirical_policy.pause_keys or ())


class GateNotReady(DataFactoryError):
    """The run is not (yet) waiting at a gate whose form can be answered."""


def wait_for_gate_form(client, flow_run_id: uuid.UUID, timeout: float = 60, interval: float = 0.5):
    """The run's paused state, once its gate form (the run input schema) is stored.

    A run shows as paused a moment before it stores the schema of its form; resuming in between
    is refused by the server ("Run input schema not found"). Returns the paused state.

    Raises:
        GateNotReady: the run is not paused, or its form was not stored within ``timeout`` seconds.
    """
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        state = client.read_flow_run(flow_run_id).state
        if state is None or not state.is_paused():
            name = state.name if state else "unknown"
            raise GateNotReady(
                f"run {flow_run_id} is not waiting at a gate (state: {name}); see `datafactory status {flow_run_id}`"
            )
        keyset = state.state_details.run_input_keyset if state.state_details else None
        if not keyset:
            return state  # a pause without a form: nothing to wait for
        try:
            client.read_flow_run_input(flow_run_id, keyset["schema"])
            return state
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 404:
                raise
        if time.monotonic() >= deadline:
            raise GateNotReady(
                f"run {flow_run_id} is paused at {state.state_details.pause_key} but its form was not stored "
                f"within {timeout:.0f} s; try again, and check the run's logs if this repeats"
            )
        time.sleep(interval)
