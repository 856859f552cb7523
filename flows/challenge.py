"""The challenge flow: brief -> problem -> schema -> preview -> data, quality, answers, reports -> ZIP.

Phases 1-3 end at an approval gate (``flows.gates``); the approval policy decides whether a
person answers (``manual``) or the phase's checks do (``auto``). A rejected run ends in a
``Rejected`` state that carries the reason.
"""

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from prefect import flow
from prefect.runtime import deployment, flow_run
from prefect.states import Cancelled

from flows.events import emit
from flows.gates import GATES, GateInput, decide
from flows.inputs import check_inputs
from flows.liveness import record_runner
from flows.review import (
    artifact_key,
    publish_package,
    publish_preview,
    publish_problem,
    publish_quality,
    publish_refusal,
    publish_schema,
    published_keys,
)
from schemas.errors import ChecksFailed, GateRejected, InputError, SpecError
from schemas.results import ChallengeResult
from schemas.serialize import spec_from_data, spec_to_data, spec_to_yaml
from schemas.spec import ChallengeSpec
from tasks.designer_offline import apply_feedback
from tasks.engine.planner import spec_fingerprint
from tasks.messiness_plan import planned, requested_level
from tasks.phases import (
    answers_task,
    archive_task,
    design_task,
    figures_task,
    generate_task,
    learn_sample_task,
    messiness_task,
    package_task,
    persisted,
    preview_task,
    quality_task,
    reports_task,
    sample_preview_task,
    store_task,
    synthesize_task,
    validate_schema_task,
)
from tasks.quality.gx_suites import wait_for_data_docs
from tasks.settings import Settings
from tasks.size_estimate import check_run_size
from tasks.workdir import claim_work_dir

Approval = Literal["auto", "manual"]


@dataclass
class PhaseOutput:
    spec: ChallengeSpec
    passed: bool
    reason: str = ""
    payload: Any = None
    publish: Callable[[int], None] | None = None  # publishes what the reviewer sees, under the attempt's keys


Produce = Callable[[str | None, int, ChallengeSpec | None], PhaseOutput]


@contextmanager
def step(name: str) -> Iterator[None]:
    """Time a step of phases 4-5 for the benchmark and the CLI."""
    start = time.perf_counter()
    yield
    emit("step-done", step=name, seconds=round(time.perf_counter() - start, 3))


def check_sample_dir(sample_dir: str) -> None:
    if not Path(sample_dir).is_dir():
        raise InputError(f"sample folder '{sample_dir}' does not exist; give a folder of CSV files (one per table)")
    try:
        import sdv  # noqa: F401
    except ImportError:
        raise InputError("learning from a sample needs the sdv extra: pip install -e '.[sdv]'") from None


def blocking_defects(report, *, sample_mode: bool) -> bool:
    """Unplanned defects that stop an automatic run.

    In sample mode the spec's distributions and coverage are estimates learned from the sample,
    so those two categories inform (they are in the report and the PDF) but do not block.
    """
    if not sample_mode:
        return report.verdict != "pass"
    return any(not c.passed for c in report.categories if c.category not in ("distribution", "coverage"))


def gated(gate: int, produce: Produce, approval: Approval, settings: Settings, suspend: bool = False) -> PhaseOutput:
    """Run a phase until its gate approves it; regenerate with feedback a bounded number of times.

    Each attempt publishes its artifacts under its own keys (``flows.review.artifact_key``). A
    refused edit (invalid ``spec_yaml``) changes nothing: the gate reopens at the next attempt on
    the same, reviewed output, shown again with the reason in the form and an artifact; nothing is
    regenerated. A suspended run starts again from the top on every resume: the attempts it has
    already published are not published again.

    Raises:
        GateRejected: the person rejected the phase.
        ChecksFailed: auto approval refused, or no approval within ``settings.max_attempts``.
    """
    published = published_keys(flow_run.get_id()) if suspend else set()
    feedback: str | None = None
    edited: ChallengeSpec | None = None
    approved_edit = False
    refused: str | None = None  # why the edit sent at the last attempt was refused
    output: PhaseOutput | None = None
    for attempt in range(settings.max_attempts):
        if refused is None or output is None:
            output = produce(feedback, attempt, edited)
        if artifact_key(gate, attempt, "spec") not in published:
            if output.publish is not None:
                output.publish(attempt)
            if refused:
                publish_refusal(gate, attempt, refused)
        if refused is None and approved_edit and output.passed:
            # an approved edit goes on once its checks pass; otherwise the person sees why, at the gate
            return output
        decision: GateInput = decide(
            gate,
            attempt,
            approval=approval,
            checks_passed=output.passed,
            reason=output.reason,
            timeout=settings.gate_timeout_seconds,
            poll_interval=settings.gate_poll_seconds,
            suspend=suspend,
            refused=refused,
        )
        emit("gate-decision", gate=gate, decision=decision.decision, feedback=decision.feedback)
        if decision.decision == "reject":
            raise GateRejected(f"rejected at gate {gate} ({GATES[gate]}): {decision.feedback or 'no reason given'}")
        try:
            edit = decision.edited_spec()
        except SpecError as exc:
            # the whole answer is refused (an 'approve' or 'regenerate' sent with it too): the reviewed
            # output stays, and the gate reopens on it with the reason
            refused = str(exc)
            emit("edit-refused", gate=gate, attempt=attempt, error=refused)
            continue
        refused = None
        if decision.decision == "approve" and edit is None:
            return output
        edited = edit
        approved_edit = decision.decision == "approve"
        feedback = decision.feedback if decision.decision == "regenerate" else None
    raise ChecksFailed(
        f"gate {gate} ({GATES[gate]}) was not approved after {settings.max_attempts} attempts; "
        "start a new run or raise DATAFACTORY_MAX_ATTEMPTS"
    )


def revised(spec: ChallengeSpec, feedback: str | None) -> tuple[ChallengeSpec, list[str]]:
    """The spec with the understood parts of ``feedback`` applied."""
    if not feedback:
        return spec, []
    data = spec_to_data(spec)
    notes = apply_feedback(data, feedback)
    return spec_from_data(data), notes


@flow(name="challenge", log_prints=True)
def challenge_flow(
    brief: str,
    domain: str | None = None,
    rows: int = 10_000,
    seed: int | None = None,
    variant: int = 0,
    locale: str | None = None,
    approval: Literal["auto", "manual"] = "auto",
    storage: str | None = None,
    output_dir: str | None = None,
    sample_dir: str | None = None,
    messiness: Literal["none", "light", "heavy"] | None = None,
) -> ChallengeResult:
    """Make a complete data-analytics challenge from a business brief.

    Args:
        brief: the business situation, e.g. "an online store is losing customers in the West".
        domain: force a domain from the blueprint library instead of matching the brief.
        rows: rows of the main fact table.
        seed: makes the challenge reproducible; random when omitted (and recorded in the spec).
        variant: same story, different numbers (one dataset per learner).
        locale: e.g. en_IN; detected from the brief when omitted.
        approval: manual waits for a person at each gate; auto approves when the checks pass.
        storage: where packages go: a folder, or s3://bucket/prefix; default: the packages folder in output_dir.
        output_dir: work files and local packages; default ./datafactory-output.
        sample_dir: learn-from-sample mode (needs the sdv extra): a folder of CSVs with real data that
            must not be published; the synthetic data mimics it instead of following a blueprint.
        messiness: a data-cleaning challenge: none, light or heavy planted mess (duplicates, casing,
            whitespace, typos, missing values, outliers, mixed date formats) with cleaning questions;
            when omitted, what the brief asks for ("a data-cleaning exercise"), else none.
    """
    settings = Settings(**({"output_dir": Path(output_dir)} if output_dir else {}))
    check_inputs(brief, rows, variant, seed, settings)
    run_id = str(flow_run.get_id() or "local")
    record_runner(run_id)  # `datafactory status` marks the run Crashed if this process dies unheard
    # a seed drawn from the run id stays the same when a suspended or crashed run starts again
    seed = (
        seed
        if seed is not None
        else (int(run_id.replace("-", ""), 16) if run_id != "local" else secrets.randbits(64)) % 1_000_000
    )
    run_name = run_id[:8]
    emit("run-started", run_id=run_id, seed=seed)
    try:
        level = requested_level(messiness, brief)
        return _run_phases(
            brief, domain, rows, seed, variant, locale, approval, storage, settings, run_name, sample_dir, level
        )
    except GateRejected as exc:
        emit("rejected", reason=str(exc))
        result = ChallengeResult(status="rejected", reason=str(exc))
        return Cancelled(name="Rejected", message=str(exc), data=result)


def _run_phases(  # noqa: C901 - reads as the list of phases
    brief, domain, rows, seed, variant, locale, approval, storage, settings, run_name, sample_dir=None, level=None
) -> ChallengeResult:
    suspend = bool(deployment.id) and flow_run.get_parent_flow_run_id() is None
    if sample_dir:
        check_sample_dir(sample_dir)
    learned = (
        learn_sample_task(sample_dir, brief, domain=domain, rows=rows, seed=seed, settings=settings)
        if sample_dir
        else None
    )
    # --- Phase 1: research and problem statement -------------------------------------------
    shown: list[ChallengeSpec] = []  # the spec the reviewer last saw, so feedback revises it

    def problem(feedback: str | None, attempt: int, edited: ChallengeSpec | None) -> PhaseOutput:
        if edited is not None:
            spec, matches, notes, designer = edited, [], ["spec edited by the reviewer"], "reviewer"
            frame = None
        elif learned is not None:
            spec, _ = revised(learned.spec, feedback)
            matches, notes, designer, frame = [], list(learned.notes), "learned from sample", None
        else:
            design = persisted(design_task, settings)(
                brief,
                domain=domain,
                rows=rows,
                seed=seed,
                variant=variant,
                locale=locale,
                feedback=feedback,
                attempt=attempt,
                previous=shown[-1] if feedback and shown else None,
                settings=settings,
            )
            spec, matches, notes, designer = design.spec, design.matches, design.notes, design.designer
            frame = getattr(design, "frame", None)  # designs cached before frames existed have none
        if edited is None:
            spec = planned(spec, level, feedback)  # the requested mess, with its cleaning questions
        shown.append(spec)
        return PhaseOutput(
            spec,
            passed=bool(spec.questions),
            reason="" if spec.questions else "the design has no questions",
            publish=lambda a: publish_problem(spec, matches, notes, designer, frame, attempt=a),
        )

    spec = gated(1, problem, approval, settings, suspend).spec
    emit("phase-done", phase=1, name="problem statement", challenge=spec.challenge.id)

    # --- Phase 2: schema and its validation ---------------------------------------------------
    def schema(feedback: str | None, attempt: int, edited: ChallengeSpec | None) -> PhaseOutput:
        current, notes = revised(edited or spec, feedback)
        validation = persisted(validate_schema_task, settings)(current)
        reason = "; ".join(
            validation.problems + [f"{q.question_id}: {q.error}" for q in validation.questions if not q.answerable]
        )
        return PhaseOutput(
            current, validation.passed, reason, validation, lambda a: publish_schema(current, validation, a, notes)
        )

    phase2 = gated(2, schema, approval, settings, suspend)
    spec = phase2.spec
    emit("phase-done", phase=2, name="schema", score=phase2.payload.score)

    # --- Phase 3: preview ---------------------------------------------------------------------
    def preview(feedback: str | None, attempt: int, edited: ChallengeSpec | None) -> PhaseOutput:
        current, notes = revised(edited or spec, feedback)
        if attempt and edited is None:
            # a regeneration without edits draws a fresh sample
            profile = current.challenge.model_copy(update={"seed": current.challenge.seed + attempt})
            current = current.model_copy(update={"challenge": profile})
        if learned is not None:
            tables, check = sample_preview_task(learned, current, settings.preview_rows)
        else:
            tables, check = persisted(preview_task, settings)(current, settings.preview_rows)
        reason = "; ".join(
            check.problems + [f"{q.question_id}: {q.error}" for q in check.questions if not q.answerable]
        )
        return PhaseOutput(
            current, check.passed, reason, check, lambda a: publish_preview(current, tables, check, a, notes)
        )

    spec = gated(3, preview, approval, settings, suspend).spec
    emit("phase-done", phase=3, name="preview")
    # the approved spec's size, before any row is written: refused with the figures and the limits
    check_run_size(spec, settings.max_rows, settings.max_bytes, settings.output_dir)

    # keyed by the spec, not the run: starting a crashed run again reuses its finished chunks
    work_dir = settings.output_dir / "runs" / f"{spec.challenge.id}-{spec_fingerprint(spec)[:10]}"
    with claim_work_dir(work_dir, run_name) as claimed:
        return _produce(spec, claimed, learned, approval, storage, settings, run_name, phase2.payload.score)


def _produce(
    spec: ChallengeSpec, work_dir: Path, learned, approval, storage, settings, run_name, schema_score
) -> ChallengeResult:
    """Phases 4-5 of an approved spec, in ``work_dir``: data, quality, answers, reports, package, storage."""
    # --- Phase 4: full generation, quality, answers, reports ---------------------------------
    (work_dir / "challenge.yaml").write_text(spec_to_yaml(spec))
    sdv_scores = None
    with step("generate"):
        if learned is not None:
            files, sdv_scores = synthesize_task(learned, spec, work_dir)
        else:
            files = generate_task(spec, work_dir, settings)  # resumes by itself from finished chunks
    with step("messiness"):
        files = persisted(messiness_task, settings)(spec, files, work_dir)
    # the checks, the answer key and the CSV compression are independent: they run side by side, and
    # the figures that need no quality report are drawn (with helper processes) while the checks run
    with step("quality+answers+figures"):
        archive = archive_task.submit(spec, files, work_dir)
        answers_future = persisted(answers_task, settings).submit(spec, files, settings)
        quality_future = persisted(quality_task, settings).submit(spec, files, work_dir)
        answers = answers_future.result()
        figures = persisted(figures_task, settings)(spec, files, answers)
        quality = quality_future.result()
        if sdv_scores is not None:
            quality.report = quality.report.model_copy(update={"sdv": sdv_scores})
        publish_quality(quality.report)
        if approval == "auto" and blocking_defects(quality.report, sample_mode=learned is not None):
            docs = None
            with suppress(Exception):  # the defects are the error to report, not the docs
                docs = wait_for_data_docs(quality.data_docs) if quality.data_docs else None
            story = quality.report.story_defects
            story_text = (
                f" ({story} from the story check: a planted story the data does not show or a sentence it does "
                "not hold; raise --rows, regenerate, or set DATAFACTORY_STORY_GATE=report to package anyway)"
                if story
                else ""
            )
            raise ChecksFailed(
                f"quality found {quality.report.unplanned_defects} unplanned defect(s){story_text}; see the "
                f"'quality-report' artifact{f', the data docs in {docs}' if docs else ''}, or run "
                f"`datafactory validate {work_dir}`"
            )
    with step("reports"):
        reports = persisted(reports_task, settings)(spec, files, answers, quality.report, work_dir, figures)
    emit("phase-done", phase=4, name="data, quality, answers, reports", rows=files.row_counts)

    # --- Phase 5: package and storage ----------------------------------------------------------
    with step("package"):
        paths = package_task(spec, files, reports, quality, work_dir, archive.result())
    with step("store"):
        stored = store_task(paths, storage, run_name, settings)
    publish_package(stored, spec.challenge.id, str(flow_run.get_id() or "RUN_ID"))
    emit("phase-done", phase=5, name="package", package=stored["full"])
    return ChallengeResult(
        status="completed",
        challenge_id=spec.challenge.id,
        domain=spec.challenge.domain,
        package=stored["full"],
        learner_package=stored["learner"],
        download_url=stored["url"],
        schema_score=schema_score,
        quality_verdict=quality.report.verdict,
        row_counts=files.row_counts,
    )


if __name__ == "__main__":
    print(challenge_flow(brief="An online store is losing customers in the West", rows=5_000, seed=7))
