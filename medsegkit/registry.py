"""Entry-point registry for models, attention modules, losses, dataset readers and clusterers.

Every component, built-in or third-party, is declared as a Python entry point in one of the
groups ``medsegkit.<kind>``. Metadata is read on first use; a component's module is imported
only when the component is asked for (:func:`load`) or checked (:func:`check`). Each kind has one
contract (:mod:`medsegkit.contracts`), checked when a component is loaded.

The groups of earlier releases, ``medsegkit.datasets`` and ``medsegkit.methods``, are still read as
aliases of ``medsegkit.readers`` and ``medsegkit.clusterers``, so installed plugins keep working;
the old kind names are accepted wherever a kind is named.

Names are unique per kind. When two distributions register the same name, asking for the bare
name is an error naming both; ``dist:name`` picks one. ``MEDSEGKIT_DISABLE_PLUGINS=1`` keeps only
components declared by medsegkit itself.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from medsegkit import contracts
from medsegkit.errors import MedsegkitError, UsageError

KINDS: tuple[str, ...] = ("models", "attention", "losses", "readers", "clusterers")
SINGULAR = contracts.SINGULAR
LEGACY_KINDS: dict[str, str] = {"datasets": "readers", "methods": "clusterers"}
CORE_DIST = "medsegkit"
DISABLE_ENV = "MEDSEGKIT_DISABLE_PLUGINS"


@dataclass(frozen=True)
class Component:
    """One registered component: where it comes from and how to import it."""

    kind: str
    name: str
    dist: str
    target: str
    entry_point: EntryPoint

    @property
    def qualified_name(self) -> str:
        return f"{self.dist}:{self.name}"


@dataclass(frozen=True)
class ComponentStatus:
    component: Component
    ok: bool
    reason: str = ""


def _normalise(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def plugins_disabled() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@cache
def _scan(kind: str, disabled: bool) -> tuple[Component, ...]:
    found: dict[tuple[str, str], Component] = {}
    groups = [kind] + [old for old, new in LEGACY_KINDS.items() if new == kind]
    for ep in (ep for group in groups for ep in entry_points(group=f"medsegkit.{group}")):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        if disabled and _normalise(dist) != CORE_DIST:
            continue
        key = (_normalise(dist), ep.name)
        found.setdefault(key, Component(kind, ep.name, dist, ep.value, ep))
    return tuple(sorted(found.values(), key=lambda c: (c.name, c.dist)))


def refresh() -> None:
    """Forget the cached entry-point metadata (after installing a plugin in-process, or in tests)."""
    _scan.cache_clear()


def canonical_kind(kind: str) -> str:
    """``kind`` itself, or the current name of an earlier release's kind (``datasets`` -> ``readers``)."""
    kind = LEGACY_KINDS.get(kind, kind)
    if kind not in KINDS:
        raise UsageError(f"unknown component kind {kind!r}; known: {', '.join(KINDS)}")
    return kind


def components(kind: str | None = None) -> list[Component]:
    """All registered components of ``kind`` (or of every kind), duplicates included."""
    kinds = KINDS if kind is None else (canonical_kind(kind),)
    return [c for k in kinds for c in _scan(k, plugins_disabled())]


def names(kind: str) -> list[str]:
    """Sorted unique names registered for ``kind``."""
    return sorted({c.name for c in components(kind)})


def resolve(kind: str, name: str) -> Component:
    """Find the one component called ``name`` (or ``dist:name``) without importing it."""
    kind = canonical_kind(kind)
    all_of_kind = components(kind)
    dist, _, bare = name.rpartition(":")
    matches = [c for c in all_of_kind if c.name == bare]
    if dist:
        matches = [c for c in matches if _normalise(c.dist) == _normalise(dist)]
    if not matches:
        known = ", ".join(names(kind)) or "none"
        raise UsageError(f"unknown {SINGULAR[kind]} {name!r}; known: {known}")
    if len(matches) > 1:
        dists = " and ".join(repr(c.dist) for c in matches)
        picks = " or ".join(repr(c.qualified_name) for c in matches)
        raise UsageError(f"{kind} name {bare!r} is registered by both {dists}; pick one with {picks}")
    return matches[0]


def load(kind: str, name: str, base: type | None = None) -> Any:
    """Import and return the object registered as ``name`` for ``kind``, checked against its kind's contract
    (and, where the caller gives one, against the ``base`` class it must subclass)."""
    component = resolve(kind, name)
    try:
        obj = component.entry_point.load()
    except Exception as exc:  # a broken plugin must not look like a medsegkit bug
        raise MedsegkitError(
            f"{SINGULAR[component.kind]} {component.name!r} from {component.dist!r} ({component.target}) "
            "failed to import: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    contracts.check_loaded(component.kind, component.name, obj, base)
    return obj


def conflicts(kind: str) -> dict[str, list[Component]]:
    """Names of ``kind`` claimed by more than one distribution."""
    by_name: dict[str, list[Component]] = {}
    for c in components(kind):
        by_name.setdefault(c.name, []).append(c)
    return {n: cs for n, cs in by_name.items() if len(cs) > 1}


def check(component: Component, exercise: bool = False, base: type | None = None) -> ComponentStatus:
    """Import ``component`` and report whether it loads and keeps its kind's contract (run once on tiny
    inputs when ``exercise``; a subclass of ``base`` where given), with the reason when it does not."""
    try:
        obj = component.entry_point.load()
    except Exception as exc:
        return ComponentStatus(component, False, f"{type(exc).__name__}: {exc}")
    try:
        (contracts.exercise if exercise else contracts.check_loaded)(component.kind, component.name, obj, base)
    except contracts.ContractError as exc:
        return ComponentStatus(component, False, str(exc))
    clash = [c for c in conflicts(component.kind).get(component.name, []) if c is not component]
    if clash:
        others = ", ".join(c.dist for c in clash)
        return ComponentStatus(component, True, f"name also registered by {others}; use {component.qualified_name}")
    return ComponentStatus(component, True)
