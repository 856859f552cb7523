"""The batch flow: many challenges, unattended, a few at a time; one failure never sinks the batch.

The list of briefs (or domains) is a YAML file in the repository or on the configured storage.
Every challenge runs as a subflow with automatic approval; a summary table artifact lists each
challenge, its domain, schema score, quality verdict and package link.
"""

import tempfile
import threading
from pathlib import Path
from typing import Literal

import yaml
from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.errors import DataFactoryError, InputError
from tasks.settings import PROJECT_ROOT, Settings


class BatchItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brief: str = Field("", description="the business brief; may be empty when a domain is given")
    domain: str | None = None
    rows: int = Field(10_000, ge=1)
    seed: int | None = None
    variant: int = Field(0, ge=0)
    locale: str | None = None
    messiness: Literal["none", "light", "heavy"] | None = Field(
        None, description="a data-cleaning challenge: planted mess and cleaning questions; default from the brief"
    )


class BatchPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenges: list[BatchItem] = Field(min_length=1)
    concurrency: int = Field(2, ge=1, le=32, description="challenges generated at the same time")


def load_batch(source: str, settings: Settings | None = None) -> BatchPlan:
    """Read a batch file: a path (relative paths resolve against the project) or an s3:// URI.

    Raises:
        InputError: the file is missing, not YAML, or not a valid batch.
    """
    if source.startswith("s3://"):
        from tasks.storage import storage_from_uri

        prefix, key = source.rsplit("/", 1)
        path = storage_from_uri(prefix, settings).get(key, Path(tempfile.mkdtemp()) / key)
    else:
        path = Path(source)
        if not path.is_absolute() and not path.exists():
            path = PROJECT_ROOT / path
    if not path.is_file():
        raise InputError(f"batch file '{source}' does not exist; give a YAML file with a 'challenges' list")
    try:
        data = yaml.safe_load(path.read_text())
        return BatchPlan.model_validate(data)
    except yaml.YAMLError as exc:
        raise InputError(f"batch file '{source}' is not valid YAML ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"batch file '{source}': {where}: {first['msg']}") from None


_slots: dict[int, threading.BoundedSemaphore] = {}


@task(name="batch-challenge", task_run_name="challenge-{index}")
def run_batch_item(index: int, item: BatchItem, storage: str | None, output_dir: str | None, limit: int) -> dict:
    """One challenge of the batch as a subflow; its failure becomes a row of the summary."""
    from flows.challenge import challenge_flow

    with _slots.setdefault(limit, threading.BoundedSemaphore(limit)):
        state = challenge_flow(
            brief=item.brief or (f"a {item.domain.replace('_', ' ')} business" if item.domain else ""),
            domain=item.domain,
            rows=item.rows,
            seed=item.seed,
            variant=item.variant,
            locale=item.locale,
            messiness=item.messiness,
            approval="auto",
            storage=storage,
            output_dir=output_dir,
            return_state=True,
        )
    row = {"index": index, "brief": item.brief[:80], "domain": item.domain or "", "status": state.name}
    if state.is_completed():
        result = state.result()
        row |= {
            "challenge": result.challenge_id,
            "domain": result.domain,
            "schema_score": result.schema_score,
            "quality": result.quality_verdict,
            "package": result.download_url or result.package,
        }
    else:
        error = state.result(raise_on_failure=False)
        row |= {
            "challenge": "",
            "schema_score": None,
            "quality": "",
            "package": "",
            "error": str(error) if isinstance(error, (DataFactoryError, Exception)) else state.message,
        }
    return row


@flow(name="challenge-batch", task_runner=ThreadPoolTaskRunner(max_workers=8), log_prints=True)
def batch_flow(
    batch_file: str = "batches/example.yaml",
    concurrency: int | None = None,
    storage: str | None = None,
    output_dir: str | None = None,
) -> list[dict]:
    """Generate every challenge listed in ``batch_file`` with automatic approval.

    Args:
        batch_file: YAML with ``challenges: [{brief, domain, rows, seed, messiness, ...}]`` and ``concurrency``.
        concurrency: overrides the file's concurrency limit.
        storage: where packages go (folder or s3://bucket/prefix).
        output_dir: work files and local packages.
    """
    plan = load_batch(batch_file)
    # the challenge flow (and every phase module it loads) is imported here, in the flow's thread, before the
    # items' threads start: first imports racing in threads saw partially initialised modules
    import flows.challenge  # noqa: F401

    limit = concurrency or plan.concurrency
    futures = [run_batch_item.submit(i, item, storage, output_dir, limit) for i, item in enumerate(plan.challenges)]
    rows = [f.result() for f in futures]
    create_table_artifact(key="batch-summary", table=rows, description=f"{len(rows)} challenges")
    done = sum(r["status"] == "Completed" for r in rows)
    print(f"batch finished: {done} of {len(rows)} challenges completed")
    return rows
