"""The Prefect tasks of the challenge flow: thin ``@task`` wrappers over the plain functions.

Each phase's logic lives in its own module (designer, schema check, preview, engine, quality,
answers, reports, package, storage) and is testable without Prefect; this module only gives
each step a task with a readable name, and retries where storage is touched.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from prefect import Task, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy

from flows.events import emit
from schemas.quality import QualityReport
from schemas.results import AnswerKey, PreviewCheck, SchemaValidation
from schemas.spec import ChallengeSpec
from tasks.answers import compute_answers
from tasks.designer import design
from tasks.engine.chunks import atomic
from tasks.engine.messiness import apply_messiness, issue_log_to_csv, to_arrow_lenient
from tasks.engine.output import DatasetFiles, generate_to_files, write_csv
from tasks.engine.types import to_arrow
from tasks.package import build_packages, write_data_archive
from tasks.preview import check_preview, make_preview
from tasks.quality import run_quality
from tasks.quality.gx_suites import wait_for_data_docs
from tasks.quality.package_io import read_table_csv
from tasks.reports.pdf import build_pdf, render_figures
from tasks.reports.profiles import profile_tables, sample_tables
from tasks.reports.workbook import build_workbook
from tasks.sample_learning import learn_spec
from tasks.sample_questions import questions_for_sample
from tasks.sample_synthesis import fit_models, synthesize
from tasks.sample_synthesis import sample_tables as sample_synthetic_tables
from tasks.schema_check import validate_schema
from tasks.settings import PROJECT_ROOT, Settings, default_domains_dir
from tasks.storage import storage_from_uri


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the project's code and blueprints: a cached phase result never outlives a code change."""
    digest = hashlib.sha256()
    for folder, pattern in (
        (PROJECT_ROOT / "schemas", "*.py"),
        (PROJECT_ROOT / "tasks", "**/*.py"),
        (PROJECT_ROOT / "tasks", "prompts/*.md"),
        (default_domains_dir(), "**/*.yaml"),
    ):
        for path in sorted(folder.glob(pattern)):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class CodeVersion(CachePolicy):
    def compute_key(self, task_ctx: Any, inputs: Any, flow_parameters: Any, **kwargs: Any) -> str:
        return code_version()


# Phase results are persisted and keyed by their inputs (and the code), so a crashed, retried or
# suspended-then-resumed run picks up approved phases instead of redoing them.
PHASE_CACHE = INPUTS + TASK_SOURCE + CodeVersion()


def persisted(phase: Task, settings: Settings) -> Task:
    """``phase`` with its results stored under the output folder (a Path: a string is a block name)."""
    return phase.with_options(
        cache_policy=PHASE_CACHE,
        persist_result=True,
        result_storage=Path(settings.output_dir).resolve() / "prefect-results",
    )


@task(name="design-challenge", task_run_name="design-challenge-attempt-{attempt}")
def design_task(brief: str, *, domain, rows, seed, variant, locale, feedback, attempt, previous, settings):

    return design(
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


@task(name="validate-schema")
def validate_schema_task(spec: ChallengeSpec) -> SchemaValidation:
    return validate_schema(spec)


@task(name="preview")
def preview_task(spec: ChallengeSpec, rows: int) -> tuple[dict[str, pd.DataFrame], PreviewCheck]:
    return make_preview(spec, rows)


@task(name="generate-data")
def generate_task(spec: ChallengeSpec, work_dir: Path, settings: Settings) -> DatasetFiles:
    """Full generation with a progress artifact that moves with every chunk (each table weighs the same)."""
    artifact_id = create_progress_artifact(0.0, key="generation-progress", description="Rows generated per table")
    total = len(spec.tables)
    shares: dict[str, float] = {}

    def progress(table: str, rows: int, share: float) -> None:
        shares[table] = share
        update_progress_artifact(
            artifact_id, 100.0 * sum(shares.values()) / total, description=f"{table}: {rows:,} rows"
        )

        emit("table-generated", table=table, rows=rows, done=len(shares), total=total, share=share)

    # resume=True: a crashed or retried run keeps its finished chunks and builds only the rest
    from tasks.scaleout import mapper_from_settings

    files = generate_to_files(
        spec,
        work_dir,
        progress=progress,
        chunk_rows=settings.chunk_rows,
        map_fn=mapper_from_settings(settings),
        resume=True,
    )
    update_progress_artifact(artifact_id, 100.0, description="all tables generated")
    return files


def read_tables(files: DatasetFiles) -> dict[str, pd.DataFrame]:
    """The generated tables back in memory (clean copies, as the engine made them)."""
    return {name: pq.read_table(path).to_pandas() for name, path in files.parquet.items()}


def shipped_tables(spec: ChallengeSpec, files: DatasetFiles) -> dict[str, pd.DataFrame]:
    """The tables as learners get them: the messy CSVs where mess was planted, else the (identical) Parquet."""

    messy = {rule.table for rule in spec.messiness}
    return {
        name: read_table_csv(files.csv[name], spec.table(name)) if name in messy else pq.read_table(path).to_pandas()
        for name, path in files.parquet.items()
    }


@dataclass
class QualityOutcome:
    report: QualityReport
    issue_log: Path | None = None
    data_docs: Path | None = None


@task(name="plant-messiness")
def messiness_task(spec: ChallengeSpec, files: DatasetFiles, work_dir: Path) -> DatasetFiles:
    """Plant the spec's messiness in the CSVs learners get; the Parquet stays clean for the answer key.

    The clean copy of every messy table goes to ``instructor/clean_data/`` (written from the Parquet,
    like the engine's CSVs): the analytical answers are computed on it.
    """
    if not spec.messiness:
        return files

    tables = read_tables(files)
    messy, log = apply_messiness(spec, tables)
    for name in sorted({rule.table for rule in spec.messiness}):
        write_csv(pq.read_table(files.parquet[name]), work_dir / "instructor" / "clean_data" / f"{name}.csv")
        files.csv[name] = write_csv(to_arrow_lenient(messy[name], spec.table(name)), files.csv[name])
    files.issue_log = log
    issue_log_to_csv(log, work_dir / "instructor" / "issue_log.csv")
    return files


@task(name="check-quality")
def quality_task(spec: ChallengeSpec, files: DatasetFiles, work_dir: Path) -> QualityOutcome:

    docs = (work_dir / "instructor" / "data_docs").resolve()
    tables = shipped_tables(spec, files)
    # GX runs in a forked process (the figures are drawn here meanwhile); it renders the docs after its
    # verdicts, while the reports are written, and the package waits for them
    report = run_quality(spec, tables, issue_log=files.issue_log or None, data_docs_dir=docs, forked=True)
    log = work_dir / "instructor" / "issue_log.csv"
    return QualityOutcome(report, log if log.exists() else None, docs)


@task(name="answer-questions")
def answers_task(spec: ChallengeSpec, files: DatasetFiles, settings: Settings) -> AnswerKey:

    # the cleaning questions are answered from the issue log; the others on the clean Parquet
    return compute_answers(
        spec, files.parquet, scenarios=files.scenarios, settings=settings, issue_log=files.issue_log or None
    )


@dataclass
class Reports:
    files: dict[str, Path] = field(default_factory=dict)
    not_produced: dict[str, str] = field(default_factory=dict)


@dataclass
class ReportInputs:
    """What the reports read besides the quality report: profiles, samples and the figures drawn so far."""

    profiles: Any
    samples: dict[str, pd.DataFrame]
    figures: dict[str, bytes | None] = field(default_factory=dict)


@task(name="draw-figures")
def figures_task(spec: ChallengeSpec, files: DatasetFiles, answers: AnswerKey) -> ReportInputs:
    """Profiles, samples and every figure that needs no quality report (drawn while the checks run)."""

    profiles = profile_tables(spec, files.parquet)
    samples = sample_tables(spec, files.parquet)
    return ReportInputs(profiles, samples, render_figures(spec, answers, profiles, files.scenarios))


@task(name="write-reports")
def reports_task(
    spec: ChallengeSpec,
    files: DatasetFiles,
    answers: AnswerKey,
    quality: QualityReport | None,
    work_dir: Path,
    inputs: ReportInputs,
) -> Reports:
    """The PDF and the workbook, from ``figures_task``'s profiles, samples and figures plus the quality report."""

    reports = Reports()
    reports.files["quality_report.pdf"] = build_pdf(
        spec,
        answers,
        inputs.profiles,
        quality,
        work_dir / "quality_report.pdf",
        scenarios=files.scenarios,
        figures=inputs.figures,
    )
    reports.files["analytical_answers.xlsx"] = build_workbook(
        spec, answers, inputs.profiles, quality, inputs.samples, work_dir / "analytical_answers.xlsx"
    )
    return reports


@task(name="compress-data")
def archive_task(spec: ChallengeSpec, files: DatasetFiles, work_dir: Path) -> Path:
    """Deflate the CSVs both packages share while the checks and reports run (zlib leaves the GIL)."""

    return write_data_archive(spec, files.csv, work_dir / "package-data.zip")


@task(name="build-package")
def package_task(
    spec: ChallengeSpec,
    files: DatasetFiles,
    reports: Reports,
    quality: QualityOutcome | None,
    work_dir: Path,
    data_archive: Path | None = None,
):

    extras = dict(reports.files)
    not_produced = dict(reports.not_produced)
    if quality and quality.issue_log:
        extras["instructor/issue_log.csv"] = quality.issue_log
    clean_data = work_dir / "instructor" / "clean_data"
    if spec.messiness and clean_data.is_dir():
        extras["instructor/clean_data"] = clean_data
    if quality and quality.data_docs:
        if wait_for_data_docs(quality.data_docs) is not None:
            extras["instructor/data_docs"] = quality.data_docs
        else:  # a cached quality result whose work folder lost its docs
            not_produced["instructor/data_docs"] = f"the data docs are no longer in {quality.data_docs}"
    package_dir = work_dir / "package"
    if package_dir.exists():
        shutil.rmtree(package_dir)
    return build_packages(
        spec,
        files.csv,
        package_dir,
        extras=extras,
        not_produced=not_produced,
        parquet=files.parquet,
        data_archive=data_archive,
    )


@task(name="store-package", retries=3, retry_delay_seconds=[1, 5, 20])
def store_task(paths, storage_uri: str | None, folder: str, settings: Settings) -> dict[str, str]:
    """Publish both ZIPs under ``folder/`` (one per run, so runs never overwrite each other).

    A storage hiccup is retried with backoff.
    """

    from tasks.storage import StorageError

    storage = storage_from_uri(storage_uri or settings.storage or str(settings.output_dir / "packages"), settings)
    key = f"{folder}/{paths.full.name}"
    try:
        full = storage.put(paths.full, key)
        learner = storage.put(paths.learner, f"{folder}/{paths.learner.name}")
        url = storage.url(key)
    except StorageError as exc:
        # the ZIPs are complete in the run's work folder: say where, so nothing has to be generated again
        raise StorageError(
            f"{exc}. The packages are kept in {paths.full.parent} ({paths.full.name}, {paths.learner.name}); "
            "copy them by hand, or fix the storage and run again with the same --seed (finished work is reused)"
        ) from None
    return {"full": full, "learner": learner, "url": url, "key": key}


# --------------------------------------------------------------------------- learn-from-sample mode (sdv extra)


@task(name="learn-sample")
def learn_sample_task(sample_dir: str, brief: str, *, domain, rows, seed, settings: Settings):
    """Read the author's sample, build a spec from it and the questions it can answer."""

    learned = learn_spec(Path(sample_dir), brief, domain=domain, rows=rows, seed=seed, settings=settings)
    questions = questions_for_sample(learned.spec, learned.tables, settings=settings)
    learned.spec = questions.spec
    learned.notes += questions.notes + [f"questions: {questions.source}"]
    return learned


@task(name="preview-from-sample")
def sample_preview_task(learned, spec: ChallengeSpec, rows: int) -> tuple[dict[str, pd.DataFrame], PreviewCheck]:

    fitted = fit_models(learned, spec)
    tables = sample_synthetic_tables(fitted, learned, spec.model_copy(update={"scale": rows}))
    return tables, check_preview(spec, tables)


@task(name="synthesize-from-sample")
def synthesize_task(learned, spec: ChallengeSpec, work_dir: Path):
    """Fit SDV on the sample, sample the full size, and write the tables like the engine does."""

    result = synthesize(learned, spec, spec.scale, work_dir)
    files = DatasetFiles({}, {}, {})
    for table in spec.tables:
        arrow = to_arrow(result.tables[table.name], table)
        folder = work_dir / "parquet" / table.name
        atomic(folder / "part-00000.parquet", lambda path, data=arrow: pq.write_table(data, path))
        files.parquet[table.name] = folder
        files.csv[table.name] = write_csv(arrow, work_dir / "csv" / f"{table.name}.csv")
        files.row_counts[table.name] = arrow.num_rows
    return files, result.scores
