"""The ``datafactory`` command: run a challenge, answer gates, follow runs, fetch packages.

Errors print as one readable line with the fix (exit code 2), never as a traceback. Messages and
anything echoed from the input (briefs, paths, feedback, spec text) print literally: Rich markup is
used only in the CLI's own fixed words, and every interpolated value goes through ``escape``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

# Prefect's first start on a fresh machine creates its database; give it time before it gives up.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
# the run's logs still reach the API (and the UI); the terminal shows the CLI's own lines instead
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.text import Text  # noqa: E402

from schemas.errors import DataFactoryError  # noqa: E402

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 2) -> int:
    # a Text, not markup: '[sdv]' or '[a-z]' in a message stay, and '[/x]' in an input cannot crash the printer
    err.print(Text.assemble(("error:", "bold red"), " ", str(message)))
    return code


# --------------------------------------------------------------------------- run


def _progress_bar(progress_state: dict, data: dict) -> None:
    """A bar over the tables of phase 4; rows so far in its description."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = progress_state.get("bar")
    if bar is None:
        bar = Progress(
            TextColumn("generating {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        bar.start()
        progress_state["bar"] = bar
        progress_state["bar_task"] = bar.add_task("", total=data["total"])
    shares = progress_state.setdefault("shares", {})
    shares[data["table"]] = data.get("share", 1.0)  # the bar moves with every chunk; M/N counts finished tables
    bar.update(
        progress_state["bar_task"],
        completed=sum(shares.values()),
        description=f"{data['table']} ({data['rows']:,} rows)",
    )


def _stop_bar(progress_state: dict) -> None:
    progress_state.pop("shares", None)
    bar = progress_state.pop("bar", None)
    if bar is not None:
        bar.stop()


def _printer(progress_state: dict) -> Any:
    def on_event(event: str, data: dict) -> None:
        if event == "table-generated":
            _progress_bar(progress_state, data)
            return
        _stop_bar(progress_state)
        if event == "run-started":
            console.print(f"run id: [bold]{escape(str(data['run_id']))}[/] (seed {data['seed']})")
        elif event == "phase-done":
            extra = ""
            if "score" in data:
                extra = f" (score {data['score']}/10)"
            elif "challenge" in data:
                extra = f" ({data['challenge']})"
            console.print(f"[green]phase {data['phase']} done[/]: {escape(str(data['name']) + extra)}")
        elif event == "gate-waiting":
            run_id = progress_state.get("run_id", "RUN_ID")
            state = "checks passed" if data["checks_passed"] else f"checks FAILED: {data['reason']}"
            what = escape(f"{data['name']}; {state}")
            console.print(
                f"[yellow]waiting at gate {data['gate']}[/] ({what}).\n"
                f"  approve:    datafactory approve {run_id}\n"
                f"  regenerate: datafactory approve {run_id} --regenerate --feedback '...'\n"
                f"  reject:     datafactory approve {run_id} --reject --feedback 'reason'\n"
                "  or use the form in the Prefect UI"
            )
        elif event == "gate-decision":
            feedback = f" ({data['feedback']})" if data["feedback"] else ""
            console.print(Text(f"gate {data['gate']}: {data['decision']}{feedback}"))
        elif event == "step-done" and data["step"] == "generate":
            console.print(f"  data generated in {data['seconds']:.1f} s")
        if event == "run-started":
            progress_state["run_id"] = data["run_id"]

    return on_event


def _settings(out: str | None):
    from tasks.settings import Settings

    return Settings(**({"output_dir": Path(out)} if out else {}))


def cmd_run(args: argparse.Namespace) -> int:
    from flows.inputs import check_inputs

    # bad options fail here, before the heavy imports and before Prefect starts its server
    settings = _settings(args.out)
    check_inputs(args.brief, args.rows, args.variant, args.seed, settings)
    if args.domain and not args.sample and args.domain != "compose":
        from tasks.domains import get_blueprint

        get_blueprint(args.domain, settings.domains_dir)  # an unknown domain names the available ones
    from flows.challenge import challenge_flow
    from flows.events import forget, listen
    from tasks.sql_sandbox import interrupt_queries_on_signals

    state: dict = {}
    listener = _printer(state)
    listen(listener)
    try:
        # Ctrl-C and SIGTERM also stop a long question query at once (DuckDB would hold off the handler)
        with interrupt_queries_on_signals():
            final = challenge_flow(
                brief=args.brief,
                domain=args.domain,
                rows=args.rows,
                seed=args.seed,
                variant=args.variant,
                locale=args.locale,
                approval=args.approval,
                storage=args.storage,
                output_dir=args.out,
                sample_dir=args.sample,
                messiness=args.messiness,
                return_state=True,
            )
    finally:
        forget(listener)
        _stop_bar(state)
    if final.name == "Rejected":
        console.print(f"[yellow]run rejected[/]: {escape(final.message or '')}")
        return 1
    if not final.is_completed():
        exc = final.result(raise_on_failure=False)
        if isinstance(exc, DataFactoryError):
            return _fail(str(exc))
        return _fail(f"the run ended {final.name}: {final.message}")
    result = final.result()
    console.print(f"[bold green]package:[/] {escape(str(result.package))}")
    console.print(Text(f"learner package: {result.learner_package}"))
    return 0


# --------------------------------------------------------------------------- gates and status


def _run_uuid(run_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(run_id)
    except ValueError:
        raise DataFactoryError(f"'{run_id}' is not a run id; use the id printed by `datafactory run`") from None


def cmd_approve(args: argparse.Namespace) -> int:
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run

    from flows.gates import GateInput, wait_for_gate_form
    from schemas.serialize import spec_from_yaml

    run_id = _run_uuid(args.run_id)
    spec_yaml = ""
    if args.spec:
        path = Path(args.spec)
        if not path.is_file():
            return _fail(f"spec file '{path}' does not exist")
        spec_yaml = path.read_text()
        edited = spec_from_yaml(spec_yaml)  # a bad edit is refused here; the run keeps waiting
        from tasks.schema_check import generation_problems

        problems = generation_problems(edited)
        if problems:
            return _fail(f"the edited spec {'; '.join(problems)}; fix it and send it again (the run keeps waiting)")
    decision = "reject" if args.reject else "regenerate" if args.regenerate else "approve"
    with get_client(sync_client=True) as client:
        # a run shows as paused a moment before its form is stored; answering in between is refused
        wait_for_gate_form(client, run_id, timeout=60)  # raises GateNotReady with the reason
    payload = GateInput(decision=decision, feedback=args.feedback or "", spec_yaml=spec_yaml)
    resume_flow_run(run_id, run_input=payload.model_dump(include={"decision", "feedback", "spec_yaml"}))
    console.print(Text(f"sent '{decision}' to run {run_id}"))
    return 0


def _artifacts(client, run_id: uuid.UUID) -> list:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    return client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))


def cmd_status(args: argparse.Namespace) -> int:
    from prefect.client.orchestration import get_client

    from flows.liveness import crash_if_orphaned

    run_id = _run_uuid(args.run_id)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        if crash_if_orphaned(client, run):
            run = client.read_flow_run(run_id)  # a run whose process was killed shows as ended
        artifacts = _artifacts(client, run_id)
    state = run.state
    console.print(f"run {run_id} ({escape(run.name)}): [bold]{escape(state.name if state else 'unknown')}[/]")
    if state and state.message:
        console.print(Text(f"  {state.message}"))
    if state and state.is_paused():
        key = (state.state_details.pause_key or "") if state.state_details else ""
        gate = key.split("-")[1] if key.startswith("gate-") else "?"
        console.print(f"  waiting at gate {gate}: approve with `datafactory approve {run_id}` or in the Prefect UI")
    if artifacts:
        console.print("  artifacts:")
        for artifact in sorted(artifacts, key=lambda a: a.created or 0):
            # a failed run's artifacts may lack a key, a type or a description
            line = f"    {artifact.key or '-':<24} {artifact.type or '-':<9} {artifact.description or ''}"
            console.print(Text(line.rstrip()))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from prefect.client.orchestration import get_client

    from tasks.storage import storage_from_uri

    run_id = _run_uuid(args.run_id)
    with get_client(sync_client=True) as client:
        artifacts = {a.key: a for a in _artifacts(client, run_id)}
    location = artifacts.get("package-location")
    if location is None:
        return _fail(f"run {run_id} has no package yet; see `datafactory status {run_id}`")
    fields = dict(line.split(": ", 1) for line in str(location.data).splitlines() if ": " in line)
    full = fields["full"].strip("`")
    if full.startswith("s3://"):
        storage = storage_from_uri(full.rsplit("/", 1)[0])
        key = full.rsplit("/", 1)[1]
        if args.to is None:
            console.print(Text(storage.url(key)))
            return 0
        target = storage.get(key, Path(args.to) / key)
    else:
        source = Path(full.removeprefix("file://"))
        if not source.is_file():
            return _fail(f"the package '{source}' is gone; run the challenge again")
        target = Path(args.to or ".") / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
    console.print(Text(str(target)))
    return 0


# --------------------------------------------------------------------------- library and packages


def cmd_domains(args: argparse.Namespace) -> int:
    from tasks.domains import load_blueprints

    for name, blueprint in sorted(load_blueprints().items()):
        console.print(f"[bold]{escape(f'{name:<22}')}[/] {escape(blueprint.description)}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from tasks.quality import render_report_table, validate_package

    report = validate_package(Path(args.path))
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        console.print(Text(render_report_table(report)))  # '[consistency]' and the examples print as they are
    return 0 if report.verdict == "pass" else 1


def cmd_batch(args: argparse.Namespace) -> int:
    from flows.inputs import check_output_dir

    check_output_dir(_settings(args.out).output_dir)  # before the heavy imports and Prefect
    from flows.batch import batch_flow, load_batch
    from tasks.sql_sandbox import interrupt_queries_on_signals

    load_batch(args.file)  # a bad file fails here, before Prefect starts
    with interrupt_queries_on_signals():
        rows = batch_flow(batch_file=args.file, concurrency=args.concurrency, storage=args.storage, output_dir=args.out)
    for row in rows:
        mark = "[green]ok[/]" if row["status"] == "Completed" else f"[red]{escape(str(row['status']))}[/]"
        detail = row.get("package") or row.get("error", "")
        console.print(f"{mark} {escape(str(row.get('challenge') or row['brief']))}: {escape(str(detail))}")
    return 0 if all(r["status"] == "Completed" for r in rows) else 1


# --------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="datafactory", description="Turn a business brief into a data challenge.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="make a challenge from a brief")
    run.add_argument("brief")
    run.add_argument("--domain", help="force a domain (see `datafactory domains`)")
    run.add_argument("--rows", type=int, default=10_000, help="rows of the main fact table (default 10000)")
    run.add_argument("--seed", type=int, help="make the challenge reproducible")
    run.add_argument("--variant", type=int, default=0, help="same story, different numbers")
    run.add_argument("--locale", help="e.g. en_IN; detected from the brief by default")
    run.add_argument("--approval", choices=["auto", "manual"], default="auto")
    run.add_argument("--out", help="output folder (default ./datafactory-output)")
    run.add_argument("--storage", help="a folder or s3://bucket/prefix for the packages")
    run.add_argument("--sample", help="learn from a folder of sample CSVs (real data that must not be published)")
    run.add_argument(
        "--messiness",
        choices=["none", "light", "heavy"],
        help="a data-cleaning challenge: plant mess in the learner's CSVs, with cleaning questions "
        "(default: what the brief asks for, else none)",
    )
    run.set_defaults(func=cmd_run)

    approve = sub.add_parser("approve", help="answer a run that waits at a gate")
    approve.add_argument("run_id")
    group = approve.add_mutually_exclusive_group()
    group.add_argument("--regenerate", action="store_true", help="redo the phase with --feedback")
    group.add_argument("--reject", action="store_true", help="stop the run; --feedback gives the reason")
    approve.add_argument("--feedback", help="what to change, or why you reject")
    approve.add_argument("--spec", help="an edited challenge spec (YAML) to use instead")
    approve.set_defaults(func=cmd_approve)

    status = sub.add_parser("status", help="phase, state, what a run waits for, its artifacts")
    status.add_argument("run_id")
    status.set_defaults(func=cmd_status)

    download = sub.add_parser("download", help="fetch a run's package (or print its presigned URL on S3)")
    download.add_argument("run_id")
    download.add_argument("--to", help="folder to copy the package into")
    download.set_defaults(func=cmd_download)

    domains = sub.add_parser("domains", help="list the domains of the blueprint library")
    domains.set_defaults(func=cmd_domains)

    validate = sub.add_parser("validate", help="run the 8 quality categories on a package (zip or folder)")
    validate.add_argument("path")
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    validate.set_defaults(func=cmd_validate)
    batch = sub.add_parser("batch", help="make every challenge listed in a batch YAML file (auto approval)")
    batch.add_argument("file")
    batch.add_argument("--concurrency", type=int, help="challenges at the same time (default: from the file)")
    batch.add_argument("--out", help="output folder (default ./datafactory-output)")
    batch.add_argument("--storage", help="a folder or s3://bucket/prefix for the packages")
    batch.set_defaults(func=cmd_batch)
    return parser


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DataFactoryError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted", code=130)
    except Exception as exc:  # noqa: BLE001 - one readable line instead of a traceback
        if os.environ.get("DATAFACTORY_DEBUG"):
            raise
        name = type(exc).__name__
        if name.lower() == "error":  # zlib.error, binascii.Error ...: "error: error: ..." says nothing
            name = f"{type(exc).__module__} error"
        if name == "ObjectNotFound" and getattr(args, "run_id", None):
            return _fail(
                f"no run with id {args.run_id} on this Prefect server; check the id printed by `datafactory run` "
                "and that PREFECT_API_URL (or PREFECT_HOME) is the one the run used"
            )
        return _fail(f"{name}: {str(exc).splitlines()[0] if str(exc) else ''} (set DATAFACTORY_DEBUG=1 for details)")


if __name__ == "__main__":
    sys.exit(main())
