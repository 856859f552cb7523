"""Phase 5: the challenge package and its learner twin, as two ZIP files.

``codebasics_data_challenge_<id>.zip`` holds the data, the reports, the spec, the SQL scripts, SDV
metadata and the instructor material; ``..._learner.zip`` holds only data, dictionary, README,
questions, the schema diagram and SQL DDL. Inputs are checked first (every table's CSV, its header,
every extra), every ZIP entry name is checked to stay inside the folder it is unzipped to, and each
ZIP is written under a temporary name and renamed only when complete. A missing report is listed in
README.txt with its reason; an empty file is never shipped. Every entry unpacks with mode 0644; the
GX data docs are made to open offline (``tasks.reports.offline_docs``).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from schemas.errors import DataFactoryError
from schemas.serialize import spec_to_yaml
from schemas.spec import ChallengeSpec
from tasks.ddl import DIALECTS, schema_sql
from tasks.reports.data_dictionary import profile_csvs, render_data_dictionary
from tasks.reports.offline_docs import DROPPED_SUFFIXES, offline_html
from tasks.reports.readme import render_readme
from tasks.sdv_metadata import sdv_metadata_json

PACKAGE_PREFIX = "codebasics_data_challenge_"
SCHEMA_DIAGRAM = "schema_diagram.png"

# reports made by other phases; when one is missing, README.txt says so and why
EXPECTED_EXTRAS: dict[str, str] = {
    "quality_report.pdf": "data quality report: 8 categories, profiles, charts",
    "analytical_answers.xlsx": "answer key: every question's answer, supporting table and chart",
}
DATA_DOCS = "instructor/data_docs"
_EXTRA_DESCRIPTIONS: dict[str, str] = {
    **EXPECTED_EXTRAS,
    "instructor/issue_log.csv": "every planted data issue, row by row",
    DATA_DOCS: "Great Expectations data docs (open index.html; works offline)",
}
_SQL_DESCRIPTIONS = {
    "postgresql": "PostgreSQL: tables, keys, \\copy of the CSVs (psql -f sql/postgresql.sql)",
    "mysql": "MySQL 8: tables, keys, LOAD DATA (mysql --local-infile=1 < sql/mysql.sql)",
    "duckdb": "DuckDB: tables, keys, COPY of the CSVs (duckdb x.duckdb < sql/duckdb.sql)",
}
# Deflate level of the data files. zlib's fast levels (1-3) compress CSVs at ~125 MB/s against ~28 MB/s at
# the default 6, for archives ~25% larger (measured on the retail CSVs: ratio 0.26 at level 2, 0.20 at 6).
COMPRESS_LEVEL = 2
TEXT_COMPRESS_LEVEL = 9  # the small text entries: size matters more than the milliseconds
_MAX_ENTRY_LENGTH = 255
_SAFE_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\- ]*$")


class PackageError(DataFactoryError):
    """The package cannot be built from what it was given; the message names the input and the fix."""


@dataclass(frozen=True)
class PackagePaths:
    """Where the two ZIP files were written."""

    full: Path
    learner: Path


def package_file_names(spec: ChallengeSpec) -> tuple[str, str]:
    """The file names of the full and the learner package for ``spec``."""
    challenge_id = spec.challenge.id
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", challenge_id):
        raise PackageError(
            f"challenge id {challenge_id!r} cannot be part of a file name; use lowercase letters, digits, '-' and '_'",
            "challenge.id",
        )
    return f"{PACKAGE_PREFIX}{challenge_id}.zip", f"{PACKAGE_PREFIX}{challenge_id}_learner.zip"


def safe_entry_name(name: str) -> str:
    """Check that ``name`` is a ZIP entry that stays inside the folder the archive is unzipped to.

    Accepts relative POSIX paths of plain parts (letters, digits, ``_ . - `` and space), such as
    ``sql/mysql.sql``; rejects absolute paths, drive letters, backslashes, ``.``/``..`` parts, empty
    parts, hidden names and control characters.

    Returns:
        The name, unchanged.

    Raises:
        PackageError: the name is unsafe; the message says why.
    """
    if not isinstance(name, str) or not name:
        raise PackageError(f"ZIP entry name {name!r} is empty; give a relative path such as 'sql/mysql.sql'")
    if len(name) > _MAX_ENTRY_LENGTH:
        raise PackageError(f"ZIP entry name {name[:40]!r}... is longer than {_MAX_ENTRY_LENGTH} characters")
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise PackageError(f"ZIP entry name {name!r} is absolute or uses backslashes; use a relative 'a/b' path")
    for part in name.split("/"):
        if part in ("", ".", ".."):
            raise PackageError(f"ZIP entry name {name!r} has an empty, '.' or '..' part; it could escape its folder")
        if not _SAFE_PART.match(part):
            raise PackageError(
                f"ZIP entry name {name!r}: part {part!r} may only hold letters, digits, '_', '.', '-' and spaces, "
                "and may not start with '.' or '-'"
            )
    return name


def build_packages(
    spec: ChallengeSpec,
    csv_files: dict[str, Path],
    out_dir: Path,
    *,
    extras: dict[str, Path] | None = None,
    not_produced: dict[str, str] | None = None,
    parquet: dict[str, Path] | None = None,
    data_archive: Path | None = None,
) -> PackagePaths:
    """Write the full and the learner package into ``out_dir``.

    Args:
        spec: the challenge spec the data was generated from.
        csv_files: table name -> its CSV (one per table of the spec, header = the spec's columns).
        out_dir: folder for the two ZIP files (created if missing).
        extras: archive name -> file or folder for the full package only, e.g.
            ``quality_report.pdf``, ``analytical_answers.xlsx``, ``instructor/issue_log.csv``,
            ``instructor/data_docs`` (a folder is added with everything in it).
        not_produced: archive name -> the reason that file is missing; listed in README.txt.
        parquet: table name -> the Parquet file (or folder of parts) each CSV was written from; the
            data dictionary then reads the tables without planted messiness from Parquet (faster).
        data_archive: a ZIP from ``write_data_archive`` for these CSVs, made earlier (for example
            while quality ran): its compressed entries are copied instead of compressing the CSVs
            again. One that no longer matches the CSVs (names, sizes, times) is ignored.

    Returns:
        The paths of the two packages.

    Raises:
        PackageError: a table's CSV is missing or does not match the spec, an extra is missing or
            has an unsafe name, or a name is both supplied and declared not produced.
    """
    full_name, learner_name = package_file_names(spec)
    table_entries = _check_tables(spec, csv_files)
    extra_files, missing = _collect_extras(extras or {}, not_produced or {})

    profiles = profile_csvs(spec, {t: Path(p) for t, p in csv_files.items()}, parquet)
    row_counts = {name: p.rows for name, p in profiles.items()}
    shared_texts = _shared_texts(spec)

    learner_texts: dict[str, str | bytes] = {
        "data_dictionary.txt": render_data_dictionary(spec, profiles, learner=True),
        "questions.txt": render_questions(spec),
        **shared_texts,
    }
    full_texts: dict[str, str | bytes] = {
        "data_dictionary.txt": render_data_dictionary(spec, profiles, learner=False),
        "challenge.yaml": spec_to_yaml(spec),
        "metadata.json": sdv_metadata_json(spec),
        **shared_texts,
    }
    learner_listing = _listing(spec, table_entries, learner_texts, {}, row_counts)
    full_listing = _listing(spec, table_entries, full_texts, extra_files, row_counts)
    learner_texts["README.txt"] = render_readme(spec, learner=True, files=learner_listing, row_counts=row_counts)
    full_texts["README.txt"] = render_readme(
        spec, learner=False, files=full_listing, not_produced=missing, row_counts=row_counts
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    table_files = {entry: Path(csv_files[table]) for table, entry in table_entries.items()}
    full_path, learner_path = out_dir / full_name, out_dir / learner_name
    temporaries: list[Path] = []
    try:
        _check_names(full_name, [*table_files, *full_texts, *_flatten(extra_files)])
        _check_names(learner_name, [*table_files, *learner_texts])
        # The CSVs (and the identical SQL scripts) are compressed once, into the full package; the
        # learner package starts as a byte copy of that and each package then gets its own entries.
        full_tmp = _temporary(out_dir, full_name, temporaries)
        if data_archive is not None and _archive_matches(Path(data_archive), shared_texts, table_files):
            shutil.copyfile(data_archive, full_tmp)
        else:
            _write_entries(full_tmp, "w", shared_texts, table_files)
        learner_tmp = _temporary(out_dir, learner_name, temporaries)
        shutil.copyfile(full_tmp, learner_tmp)
        extra_entries, offline_pages = _offline_docs(_flatten(extra_files))
        _write_entries(
            full_tmp,
            "a",
            {n: t for n, t in full_texts.items() if n not in shared_texts} | offline_pages,
            extra_entries,
        )
        _write_entries(learner_tmp, "a", {n: t for n, t in learner_texts.items() if n not in shared_texts}, {})
        for tmp, final_name in ((full_tmp, full_name), (learner_tmp, learner_name)):
            _check_written(tmp, final_name)
        os.replace(full_tmp, full_path)
        os.replace(learner_tmp, learner_path)
    finally:
        for tmp in temporaries:
            tmp.unlink(missing_ok=True)
    return PackagePaths(full=full_path, learner=learner_path)


def write_data_archive(spec: ChallengeSpec, csv_files: dict[str, Path], out_path: Path) -> Path:
    """Compress what both packages share (every table's CSV and the SQL scripts) into one ZIP.

    Deflating the CSVs is nearly all of the packaging time and depends only on the data, so a flow
    can start this as soon as the CSVs are final, next to the quality checks and the reports (zlib
    works outside the GIL, so a thread is enough), and pass the result to
    ``build_packages(..., data_archive=...)``.

    Raises:
        PackageError: a table's CSV is missing or does not match the spec.
    """
    table_entries = _check_tables(spec, csv_files)
    table_files = {entry: Path(csv_files[table]) for table, entry in table_entries.items()}
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    temporaries: list[Path] = []
    try:
        tmp = _temporary(out_path.parent, out_path.name, temporaries)
        _write_entries(tmp, "w", _shared_texts(spec), table_files)
        os.replace(tmp, out_path)
    finally:
        for tmp in temporaries:
            tmp.unlink(missing_ok=True)
    return out_path


def render_questions(spec: ChallengeSpec) -> str:
    """``questions.txt`` of the learner package: the problem and the numbered questions, no solutions."""
    c = spec.challenge
    lines = [c.title, "", " ".join(c.problem_statement.split()), "", "Questions:"]
    for i, q in enumerate(spec.questions, 1):
        lines.append(f"{i}. {q.text} ({q.difficulty})")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- checks


def _check_tables(spec: ChallengeSpec, csv_files: dict[str, Path]) -> dict[str, str]:
    """Table name -> ZIP entry, after checking every CSV is there and has the spec's header."""
    entries: dict[str, str] = {}
    for table in spec.tables:
        if not re.fullmatch(r"[A-Za-z0-9_]+", table.name or ""):
            raise PackageError(
                f"table name {table.name!r} cannot be a file name in the package; table names must be snake_case",
                f"tables.{table.name}",
            )
        entries[table.name] = safe_entry_name(f"{table.name}.csv")
    missing = [name for name in spec.table_names if name not in csv_files]
    if missing:
        raise PackageError(
            f"no CSV given for table(s) {', '.join(missing)}; generate the dataset again or pass every table's CSV"
        )
    unknown = sorted(set(csv_files) - set(spec.table_names))
    if unknown:
        raise PackageError(
            f"CSV given for unknown table(s) {', '.join(unknown)}; the spec's tables are {', '.join(spec.table_names)}"
        )
    for table in spec.tables:
        path = Path(csv_files[table.name])
        if not path.is_file():
            raise PackageError(f"CSV of table '{table.name}' not found at {path}; generate the dataset again")
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
        if header != table.column_names:
            raise PackageError(
                f"{path.name} has columns {header} but the spec says {table.column_names}; "
                "the CSV was generated from another spec: generate it again",
                f"tables.{table.name}",
            )
    return entries


def _collect_extras(extras: dict[str, Path], not_produced: dict[str, str]) -> tuple[dict[str, Path], dict[str, str]]:
    """Checked extras (name -> file or folder) and every missing report with its reason."""
    reserved = {"README.txt", "data_dictionary.txt", "challenge.yaml", "metadata.json", "questions.txt", "sql"}
    files: dict[str, Path] = {}
    missing: dict[str, str] = {}
    for raw, reason in not_produced.items():
        name = safe_entry_name(raw.rstrip("/"))
        missing[name] = " ".join(str(reason).split()) or "no reason given"
    for raw, value in extras.items():
        name = safe_entry_name(raw.rstrip("/"))
        path = Path(value)
        if name in reserved or name.split("/")[0] == "sql" or (name.endswith(".csv") and "/" not in name):
            raise PackageError(
                f"extra '{name}' would replace a file the package writes itself; put it under instructor/"
            )
        if name in missing:
            raise PackageError(f"'{name}' is both supplied in extras and declared not produced; keep only one")
        if not path.exists():
            raise PackageError(f"extra '{name}': {path} does not exist; produce it or declare it in not_produced")
        if path.is_dir():
            inside = [p for p in sorted(path.rglob("*")) if p.is_file() and p.stat().st_size > 0]
            if not inside:
                missing[name] = f"the folder {path.name} was empty"
                continue
            for p in inside:
                safe_entry_name(f"{name}/{p.relative_to(path).as_posix()}")
        elif path.stat().st_size == 0:
            missing[name] = f"the file {path.name} was empty"
            continue
        files[name] = path
    for name in EXPECTED_EXTRAS:
        if name not in files and name not in missing:
            missing[name] = "not supplied to the packager"
    return files, missing


def _flatten(extras: dict[str, Path]) -> dict[str, Path]:
    """Archive name -> file, with every folder expanded into its (non-empty) files."""
    out: dict[str, Path] = {}
    for name, path in extras.items():
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and p.stat().st_size > 0:
                    out[f"{name}/{p.relative_to(path).as_posix()}"] = p
        else:
            out[name] = path
    return out


def _offline_docs(files: dict[str, Path]) -> tuple[dict[str, Path], dict[str, str | bytes]]:
    """The data docs' HTML pages made to open offline (``tasks.reports.offline_docs``), and their GIFs left out."""
    kept: dict[str, Path] = {}
    pages: dict[str, str | bytes] = {}
    for name, path in files.items():
        if not name.startswith(f"{DATA_DOCS}/"):
            kept[name] = path
        elif path.suffix.lower() in DROPPED_SUFFIXES:
            continue
        elif path.suffix.lower() in {".html", ".htm"}:
            pages[name] = offline_html(path.read_text(encoding="utf-8", errors="replace"))
        else:
            kept[name] = path
    return kept, pages


# --------------------------------------------------------------------------- writing


def _listing(
    spec: ChallengeSpec,
    tables: dict[str, str],
    texts: dict[str, str | bytes],
    extras: dict[str, Path],
    row_counts: dict[str, int],
) -> list[tuple[str, str]]:
    listing = [("README.txt", "this file")]
    for table, entry in tables.items():
        description = " ".join(spec.table(table).description.split()) or f"the {table} table"
        listing.append((entry, f"{description} ({row_counts.get(table, 0):,} rows)"))
    describe = {
        "data_dictionary.txt": "every table and column: type, unit, meaning, keys, values, range",
        "questions.txt": "the problem and the questions",
        "challenge.yaml": "the full challenge specification, with the SQL that answers each question",
        "metadata.json": "SDV multi-table metadata of the schema",
        SCHEMA_DIAGRAM: "the tables, their keys and how they join (entity-relationship diagram)",
        **{f"sql/{d}.sql": text for d, text in _SQL_DESCRIPTIONS.items()},
    }
    listing += [(name, describe.get(name, "")) for name in texts]
    for name, path in extras.items():
        label = f"{name}/" if path.is_dir() else name
        listing.append((label, _EXTRA_DESCRIPTIONS.get(name, "instructor material")))
    return listing


def _shared_texts(spec: ChallengeSpec) -> dict[str, str | bytes]:
    """The entries made here and identical in both packages: the SQL scripts and the schema diagram (PNG)."""
    from tasks.reports.charts import er_diagram  # local: matplotlib loads only when a package is built

    texts: dict[str, str | bytes] = {f"sql/{dialect}.sql": schema_sql(spec, dialect) for dialect in DIALECTS}
    texts[SCHEMA_DIAGRAM] = er_diagram(spec)
    return texts


def _encoded(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8")


def _archive_matches(archive: Path, texts: dict[str, str | bytes], files: dict[str, Path]) -> bool:
    """Whether ``archive`` holds exactly these texts and these files as they are now (size and time)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = {info.filename: info for info in zf.infolist()}
            if set(infos) != set(texts) | set(files):
                return False
            for name, text in texts.items():
                if zf.read(name) != _encoded(text):
                    return False
    except (OSError, zipfile.BadZipFile):
        return False
    for name, path in files.items():
        stat = path.stat()
        expected = zipfile.ZipInfo.from_file(path, name)
        if infos[name].file_size != stat.st_size or infos[name].date_time != expected.date_time:
            return False
    return True


def _check_names(final_name: str, names: list[str]) -> None:
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PackageError(f"two files want the same name in {final_name}: {', '.join(duplicates)}")


def _temporary(out_dir: Path, final_name: str, temporaries: list[Path]) -> Path:
    """An empty temporary file in ``out_dir``; readable by all like a published file (mkstemp makes it 0600)."""
    handle, tmp_name = tempfile.mkstemp(prefix=f".{final_name}.", suffix=".tmp", dir=out_dir)
    os.close(handle)
    tmp = Path(tmp_name)
    temporaries.append(tmp)
    tmp.chmod(0o644)
    return tmp


def _write_entries(path: Path, mode: str, texts: dict[str, str | bytes], files: dict[str, Path]) -> None:
    """Write (``mode="w"``) or append (``"a"``) text entries, then file entries, to the ZIP at ``path``."""
    stamp = dt.datetime.now().timetuple()[:6]
    with zipfile.ZipFile(
        path, mode, compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL, allowZip64=True
    ) as zf:
        for name, text in _ordered(texts):
            info = zipfile.ZipInfo(safe_entry_name(name), date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, _encoded(text), compresslevel=TEXT_COMPRESS_LEVEL)
        for name, file in files.items():
            # every entry unpacks readable by all (0644), whatever mode the file had here (temp files are 0600)
            info = zipfile.ZipInfo.from_file(file, safe_entry_name(name))
            info.external_attr = (0o100644 << 16) | (info.external_attr & 0xFFFF)
            info.compress_type = zipfile.ZIP_DEFLATED
            info._compresslevel = COMPRESS_LEVEL  # what ZipFile.write sets; the public API has no other way
            with open(file, "rb") as source, zf.open(info, "w") as target:
                shutil.copyfileobj(source, target, 1 << 20)


def _check_written(path: Path, final_name: str) -> None:
    """Belt and braces: what was written is what was checked."""
    names = _entry_names(path)
    if len(names) != len(set(names)):
        raise PackageError(f"{final_name} would hold the same entry twice")
    for name in names:
        if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
            raise PackageError(f"{final_name} would hold an unsafe entry {name!r}")


def _ordered(texts: dict[str, str | bytes]) -> list[tuple[str, str | bytes]]:
    return sorted(texts.items(), key=lambda item: (item[0] != "README.txt", "/" in item[0], item[0]))


def _entry_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()
