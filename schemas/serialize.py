"""YAML and JSON text <-> ``ChallengeSpec``, with pydantic errors turned into located ``SpecError``s.

Text only (no file I/O): callers read and write files.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import ValidationError

from schemas.errors import SpecError
from schemas.spec import ChallengeSpec, SpecProblems


def spec_from_data(data: Any) -> ChallengeSpec:
    """Validate already-parsed data.

    Raises:
        SpecError: with every problem, each located (``tables.orders.columns.total: ...``).
    """
    if not isinstance(data, dict):
        raise SpecError(
            f"a challenge spec is a mapping with 'challenge', 'tables' and 'questions'; got {type(data).__name__}"
        )
    try:
        return ChallengeSpec.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc, data)
        numbered = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
        raise SpecError(f"{len(problems)} problem(s) in the challenge spec:\n{numbered}", problems=problems) from None


def spec_from_yaml(text: str) -> ChallengeSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"the spec is not valid YAML ({exc}); check indentation and quoting") from None
    return spec_from_data(data)


def spec_from_json(text: str) -> ChallengeSpec:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"the spec is not valid JSON ({exc})") from None
    return spec_from_data(data)


def spec_to_data(spec: ChallengeSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json", exclude_none=True)


def spec_to_yaml(spec: ChallengeSpec) -> str:
    return yaml.safe_dump(spec_to_data(spec), sort_keys=False, allow_unicode=True, width=110)


def spec_to_json(spec: ChallengeSpec) -> str:
    return json.dumps(spec_to_data(spec), indent=2, ensure_ascii=False)


def _problems(exc: ValidationError, data: Any) -> list[str]:
    problems: list[str] = []
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, SpecProblems):
            problems.extend(cause.problems)
            continue
        path = _readable_path(error["loc"], data)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field; remove it or check its spelling"
        elif error["type"] == "missing":
            message = "required field is missing"
        elif error["type"] == "union_tag_invalid":
            message += "; supported kinds: " + ", ".join(_kinds(error))
        problems.append(f"{path}: {message}" if path else message)
    return problems


def _kinds(error: dict) -> list[str]:
    expected = (error.get("ctx") or {}).get("expected_tags", "")
    return [k.strip(" '") for k in str(expected).split(",") if k.strip()]


def _readable_path(loc: tuple, data: Any) -> str:
    """``('tables', 2, 'columns', 0, 'generator', 'numeric', 'std')`` -> ``tables.orders.columns.id.generator.std``."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            child = node[item] if isinstance(node, list) and item < len(node) else None
            label = child.get("name") or child.get("id") if isinstance(child, dict) else None
            if label:
                parts.append(str(label))
            else:
                parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
            node = child
            continue
        if isinstance(node, dict) and item in node:
            node = node[item]
            parts.append(str(item))
        elif isinstance(node, dict) and item in (
            "sequence",
            "categorical",
            "numeric",
            "date",
            "date_sequence",
            "faker",
            "foreign_key",
            "lookup",
            "conditional",
            "date_offset",
            "derived",
            "rollup",
            "group_key",
            "measure",
            "scale",
            "shift_weights",
            "volume",
        ):
            continue  # a discriminator tag pydantic adds to the location; the kind is already in the data
        else:
            node = None
            parts.append(str(item))
    return ".".join(parts)
