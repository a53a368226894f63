"""`GET /api/v1/openapi.json`: the API described from its own route table."""

from __future__ import annotations

import re
from typing import Any

from sequenzia import __version__
from sequenzia.api.router import Call, Route

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "message"],
            "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
        }
    },
}


def describe(routes: list[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", route.path)
            ],
            "responses": {
                "200": {"description": "OK"},
                "400": {
                    "description": "Bad input",
                    "content": {"application/json": {"schema": ERROR}},
                },
                "401": {"description": "No key, or an unknown or revoked key"},
                "403": {"description": "The key's scope does not allow this"},
                "404": {"description": "No such thing"},
            },
        }
        if route.method in ("POST", "PATCH", "DELETE") and route.path != "/jobs/{job_id}/retry":
            operation["responses"]["202"] = {
                "description": "Journalled as a Discord I/O job; Location names it"
            }
            operation["parameters"].append(
                {
                    "name": "wait",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 0, "maximum": 60},
                    "description": "Seconds to wait for the job to settle (200 with its outcome)",
                }
            )
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": route.body}},
            }
        if route.scope is not None:
            operation["security"] = [{"bearer": []}]
            operation["x-scope"] = route.scope
        paths.setdefault("/api/v1" + route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sequenzia", "version": __version__},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }  # fmt: skip


def openapi_route(routes: list[Route]) -> Route:
    document = describe(routes)

    async def serve(call: Call) -> tuple[int, Any]:
        return 200, document

    return Route("GET", "/openapi.json", serve, None, "This document")
