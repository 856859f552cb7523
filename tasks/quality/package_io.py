"""Read a challenge package (ZIP or folder) back into a spec, typed tables and its issue log.

A package holds ``challenge.yaml`` and one ``<table>.csv`` per table at its root (a ZIP may wrap
them in one top folder) and, for messy challenges, ``instructor/issue_log.csv``. CSV columns are
typed from the spec; a column whose text does not parse as its spec type stays text, which is what
the schema-conformity checks then report. A file that cannot be read at all (empty, not UTF-8, not
CSV, a damaged ZIP member) is an ``InputError`` naming the file and the problem; errors name the ZIP
the user gave, never the temporary folder it is unpacked to. A learner package (no spec) is named
as such, with the full package to validate instead.
"""

from __future__ import annotations

import tempfile
import zipfile
import zlib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from schemas.errors import InputError
from schemas.quality import IssueLogEntry, QualityReport
from schemas.serialize import spec_from_yaml
from schemas.spec import ChallengeSpec, TableSpec
from tasks.engine.messiness import read_issue_log
from tasks.engine.types import ARROW_TYPES

SPEC_FILE = "challenge.yaml"
ISSUE_LOG = Path("instructor") / "issue_log.csv"


def validate_package(path: Path, data_docs_dir: Path | None = None) -> QualityReport:
    """Run the 8 quality categories on a package.

    Args:
        path: the package ZIP or its unpacked folder.
        data_docs_dir: optionally build the GX data docs here.

    Raises:
        InputError: the path does not exist, is not a ZIP or folder, or lacks ``challenge.yaml``.
    """
    from tasks.quality.run import run_quality

    path = Path(path)
    if path.is_file():
        with tempfile.TemporaryDirectory(prefix="datafactory-validate-") as tmp:
            spec, tables, log = read_package(_unzip(path, Path(tmp)), shown=path)
            return run_quality(spec, tables, issue_log=log, data_docs_dir=data_docs_dir)
    spec, tables, log = read_package(path)
    return run_quality(spec, tables, issue_log=log, data_docs_dir=data_docs_dir)


def read_package(
    folder: Path, shown: Path | None = None
) -> tuple[ChallengeSpec, dict[str, pd.DataFrame], list[IssueLogEntry] | None]:
    """The spec, the tables (typed from the spec) and the issue log (None when absent) of a package folder.

    A table whose CSV is missing is left out (the schema checks report it).

    Args:
        folder: the unpacked package.
        shown: what errors call the package (the ZIP it was unpacked from); ``folder`` by default.

    Raises:
        InputError: no package here, a learner package, or a file that cannot be read (named).
    """
    folder = Path(folder)
    shown = Path(shown or folder)
    if not folder.is_dir():
        raise InputError(f"{shown}: no such package; give a package ZIP or the folder it unpacks to")
    root = _package_root(folder, shown)
    spec = spec_from_yaml(_text(root / SPEC_FILE, _inside(shown, root, folder, SPEC_FILE)))
    tables = {}
    for table in spec.tables:
        csv_path = root / f"{table.name}.csv"
        if csv_path.exists():
            tables[table.name] = read_table_csv(csv_path, table, shown=_inside(shown, root, folder, csv_path.name))
    log_path = root / ISSUE_LOG
    return spec, tables, read_issue_log(log_path) if log_path.exists() else None


def _inside(shown: Path, root: Path, folder: Path, name: str) -> str:
    """``name`` as the user sees it: ``package.zip:top/orders.csv`` or ``folder/orders.csv``."""
    relative = (root / name).relative_to(folder).as_posix()
    return f"{shown}:{relative}" if shown != folder else str(folder / relative)


def _text(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{shown} is not UTF-8 text (byte {exc.start}); the file is damaged, build the package again"
        ) from None


def read_table_csv(path: Path, table: TableSpec, shown: str | None = None) -> pd.DataFrame:
    """One CSV as a DataFrame with the engine's dtypes where the text parses, text where it does not.

    Raises:
        InputError: the file is empty, not UTF-8 or not a CSV; names ``shown`` (default: ``path``).
    """
    shown = shown or str(path)
    if path.stat().st_size == 0:
        raise InputError(
            f"{shown} is empty (0 bytes); a table's CSV starts with its header row; build the package again"
        )
    try:
        with path.open("rb") as handle:
            header = pacsv.read_csv(handle, read_options=pacsv.ReadOptions(block_size=1 << 16)).column_names
        raw = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except UnicodeDecodeError as exc:  # in the header: Arrow decodes column names itself
        raise InputError(
            f"{shown} is not UTF-8 text (byte {exc.start} of the header); the file is damaged, build the package again"
        ) from None
    except pa.ArrowInvalid as exc:
        first = str(exc).splitlines()[0]
        problem = "is not UTF-8 text" if "UTF8" in first or "UTF-8" in first else "cannot be read as CSV"
        raise InputError(f"{shown} {problem} ({first}); the file is damaged, build the package again") from None
    columns = {}
    for name in raw.column_names:
        values = raw.column(name)
        column = table.column(name)
        columns[name] = _to_pandas(_cast(values, column.type) if column is not None else values)
    return pd.DataFrame(columns)


def _cast(values: pa.ChunkedArray, column_type: str) -> pa.ChunkedArray:
    if column_type in ("string", "category"):
        return values
    try:
        if column_type == "bool":
            lowered = pc.utf8_lower(values)
            return pc.cast(lowered, pa.bool_())
        return pc.cast(values, ARROW_TYPES[column_type])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return values  # text that does not parse stays text: schema conformity reports it


def _to_pandas(values: pa.ChunkedArray) -> pd.Series:
    kind = values.type
    if pa.types.is_integer(kind):
        return values.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get).astype("Int64")
    if pa.types.is_boolean(kind):
        return values.to_pandas().astype("boolean")
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        return pd.to_datetime(values.to_pandas(date_as_object=False)).astype("datetime64[s]")
    return values.to_pandas()


# what a learner package holds instead of the spec (tasks.package): questions, dictionary, DDL
LEARNER_FILES = ("questions.txt", "data_dictionary.txt")


def _package_root(folder: Path, shown: Path | None = None) -> Path:
    shown = shown or folder
    if (folder / SPEC_FILE).exists():
        return folder
    inner = [p for p in folder.iterdir() if p.is_dir() and (p / SPEC_FILE).exists()]
    if len(inner) == 1:
        return inner[0]
    candidates = [folder, *(p for p in folder.iterdir() if p.is_dir())]
    if any(all((c / name).exists() for name in LEARNER_FILES) for c in candidates):
        full = shown.name.replace("_learner", "") if "_learner" in shown.name else "the full package"
        raise InputError(
            f"{shown} is a learner package: its data, dictionary and questions, without {SPEC_FILE}, the spec the "
            f"quality checks compare the data with; validate {full} (built beside it) instead"
        )
    raise InputError(f"{shown}: no {SPEC_FILE} at the package root; validate a package built by `datafactory`")


def _unzip(path: Path, target: Path) -> Path:
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a ZIP file; give a package ZIP or its unpacked folder")
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                resolved = (target / member).resolve()
                if not str(resolved).startswith(str(target.resolve())):
                    raise InputError(f"{path}: member {member!r} points outside the package; the ZIP is unsafe")
            for info in archive.infolist():
                try:
                    archive.extract(info, target)
                except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                    raise InputError(
                        f"{path}: member {info.filename!r} is damaged ({exc}); download or build the package again"
                    ) from None
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path}: the ZIP is damaged ({exc}); download or build the package again") from None
    return target
