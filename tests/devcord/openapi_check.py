"""Checking devcord's answers against Discord's own OpenAPI document.

Every REST answer devcord gives while a test runs is validated against the schema the
document gives for that route, method and status (4XX and 429 against its error
responses). Drift from Discord becomes a failing test.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import referencing

SPEC = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "reference"
    / "discord-api-spec"
    / "openapi.json"
)
# Routes devcord serves that the document does not describe (reference README).
UNDOCUMENTED = {("POST", "/attachments/refresh-urls"), ("POST", "/oauth2/token")}


@lru_cache(maxsize=1)
def _spec() -> tuple[dict[str, Any], referencing.Registry]:
    spec = json.loads(SPEC.read_text())
    # Known disagreement inside Discord's own material: the document reuses its Error
    # object (integer `code`) for field errors, while reference.mdx ("Error Messages")
    # shows what the API sends there: string codes such as "BASE_TYPE_REQUIRED".
    # devcord follows the doc page; only that one spot is relaxed here.
    spec["components"]["schemas"]["InnerErrors"]["properties"]["_errors"]["items"] = {
        "type": "object",
        "properties": {"code": {"type": ["string", "integer"]}, "message": {"type": "string"}},
        "required": ["code", "message"],
    }
    resource = referencing.Resource.from_contents(
        spec, default_specification=referencing.jsonschema.DRAFT202012
    )
    return spec, referencing.Registry().with_resource("urn:discord-openapi", resource)


def _shape(template: str) -> str:
    """A route with its parameter names blanked: devcord's names need not be Discord's."""
    return re.sub(r"\{[^}]+\}", "{}", template)


@lru_cache(maxsize=1)
def _paths_by_shape() -> dict[str, dict[str, Any]]:
    spec, _ = _spec()
    return {_shape(path): item for path, item in spec["paths"].items()}


def _response_schema(method: str, template: str, status: int) -> dict[str, Any] | None:
    spec, _ = _spec()
    operation = _paths_by_shape().get(_shape(template), {}).get(method.lower())
    if operation is None:
        raise AssertionError(
            f"devcord serves {method} {template}, which Discord's document does not have"
        )
    responses = operation["responses"]
    response = responses.get(str(status)) or (responses.get("4XX") if 400 <= status < 500 else None)
    if response is None:
        raise AssertionError(f"Discord's document has no {status} answer for {method} {template}")
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[1]
        response = spec["components"]["responses"][name]
    content = response.get("content", {}).get("application/json")
    return content["schema"] if content else None


def check(method: str, template: str, status: int, body: Any) -> list[str]:
    """Problems with one answer (empty when it matches the document)."""
    if (method, template) in UNDOCUMENTED:
        return []
    if status >= 500:
        return []  # injected faults: the document describes the API's answers, not outages
    if status == 404 and body == {"message": "404: Not Found", "code": 0}:
        return []  # an unknown path: no route in the document to check against
    try:
        schema = _response_schema(method, template, status)
    except AssertionError as e:
        return [str(e)]
    if schema is None:
        return (
            []
            if body is None
            else [f"{method} {template} {status}: the document has no body, devcord sent one"]
        )
    _, registry = _spec()
    # refs inside the document are relative to it: point them at the registered copy
    anchored = json.loads(
        json.dumps(schema).replace('"#/components/', '"urn:discord-openapi#/components/')
    )
    validator = jsonschema.Draft202012Validator(anchored, registry=registry)
    return [
        f"{method} {template} {status}: {'/'.join(str(p) for p in e.absolute_path)}: {e.message[:200]}"
        for e in validator.iter_errors(body)
    ][:5]


class ResponseChecker:
    """Collects problems from every answer; the test fixture asserts there are none."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.checked = 0

    def __call__(self, method: str, template: str, status: int, body: Any) -> None:
        # called inside devcord's request handling: never raise into it
        self.checked += 1
        try:
            self.problems.extend(check(method, template, status, body))
        except Exception as e:
            self.problems.append(f"{method} {template} {status}: could not check: {e!r}")
