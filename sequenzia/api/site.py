"""Assembling /api/v1 from its parts."""

from __future__ import annotations

from typing import Any

from sequenzia.api.collections import CollectionsApi
from sequenzia.api.jobs import JobsApi
from sequenzia.api.keys import KeysApi
from sequenzia.api.me import MeApi
from sequenzia.api.openapi import openapi_route
from sequenzia.api.records import RecordsApi
from sequenzia.api.router import ApiResource
from sequenzia.api.uploads import UploadsApi
from sequenzia.authware.access import Authenticator
from sequenzia.authware.keys import KeyVerifier
from sequenzia.config import Config


def build_api(database: Any, bus: Any, clock: Any, config: Config) -> ApiResource:
    jobs = JobsApi(database, bus, clock)
    routes = [
        *MeApi(database).routes(),
        *CollectionsApi(database).routes(),
        *KeysApi(database).routes(),
        *jobs.routes(),
        *RecordsApi(database, jobs).routes(),
        *UploadsApi(database, jobs, config).routes(),
    ]
    routes.append(openapi_route(routes))
    return ApiResource(routes, Authenticator(database, KeyVerifier(database, clock), clock))
