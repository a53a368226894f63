"""Assembling /api/v1 from its parts."""

from __future__ import annotations

from typing import Any

from sequenzia.api.collections import CollectionsApi
from sequenzia.api.jobs import JobsApi
from sequenzia.api.keys import KeysApi
from sequenzia.api.me import MeApi
from sequenzia.api.openapi import openapi_route
from sequenzia.api.permissions import PermissionsApi
from sequenzia.api.records import RecordsApi
from sequenzia.api.router import ApiResource
from sequenzia.api.uploads import UploadsApi
from sequenzia.authware.access import Authenticator
from sequenzia.authware.keys import KeyVerifier
from sequenzia.config import Config


def build_api(
    database: Any,
    bus: Any,
    clock: Any,
    config: Config,
    cache: Any = None,
    authenticator: Authenticator | None = None,
) -> ApiResource:
    """The API; `cache` is the CDS's SpanCache (for the `packed` filter), when this node has
    one; `authenticator` the process's, shared so a key is checked once for every route."""
    jobs = JobsApi(database, bus, clock)
    if authenticator is None:
        authenticator = Authenticator(database, KeyVerifier(database, clock), clock)
    routes = [
        *MeApi(database).routes(),
        *CollectionsApi(database).routes(),
        *KeysApi(database).routes(),
        *jobs.routes(),
        *RecordsApi(database, jobs, cache).routes(),
        *UploadsApi(database, jobs, config).routes(),
        *PermissionsApi(database, authenticator).routes(),
    ]
    routes.append(openapi_route(routes))
    return ApiResource(routes, authenticator)
