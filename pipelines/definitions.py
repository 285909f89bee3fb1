"""The one Definitions of the code location. Domain modules in assets/ and sensors/ each export
`defs = dg.Definitions(...)`; they are merged here with the shared resources."""

from __future__ import annotations

import importlib
import pkgutil

import dagster as dg

import assets
import sensors
from pipelines.resources import PostgresResource, SettingsResource


def _domain_defs() -> list[dg.Definitions]:
    found = []
    for package in (assets, sensors):
        for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            mod = importlib.import_module(f"{package.__name__}.{module.name}")
            if isinstance(getattr(mod, "defs", None), dg.Definitions):
                found.append(mod.defs)
    return found


def build_definitions() -> dg.Definitions:
    resources = dg.Definitions(resources={"postgres": PostgresResource(), "settings": SettingsResource()})
    return dg.Definitions.merge(resources, *_domain_defs())


defs = build_definitions()
