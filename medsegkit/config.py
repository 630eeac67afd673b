"""Frozen dataclass configs: built from defaults, a TOML file and flags (in that order), saved with outputs."""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from medsegkit.errors import UsageError

C = TypeVar("C")


def _flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def coerce(name: str, value: Any, hint: Any) -> Any:
    """Convert ``value`` (from TOML or a flag) to the annotated type ``hint``; errors name the option."""
    if value is None:
        return None
    options = [a for a in typing.get_args(hint) if a is not type(None)] if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", None)) else [hint]
    target = options[0] if options else hint
    origin = typing.get_origin(target)
    if origin is typing.Literal:
        choices = typing.get_args(target)
        for choice in choices:
            if value == choice or str(value) == str(choice):
                return choice
        raise UsageError(f"{_flag(name)} must be one of {', '.join(map(str, choices))}, got {value!r}")
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else list(value)
        kinds = typing.get_args(target)
        kind = kinds[0] if kinds else float
        try:
            return tuple(kind(v) for v in items)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{_flag(name)} expects a list of {kind.__name__}, got {value!r}") from exc
    if target is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off"):
            return False
        raise UsageError(f"{_flag(name)} expects true or false, got {value!r}")
    if target in (int, float, str):
        if target is int and isinstance(value, float) and not value.is_integer():
            raise UsageError(f"{_flag(name)} expects int, got {value!r}")
        try:
            return target(value)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{_flag(name)} expects {target.__name__}, got {value!r}") from exc
    return value


def build(cls: type[C], values: Mapping[str, Any], what: str) -> C:
    """Instantiate the frozen dataclass ``cls`` from ``values``; unknown or mistyped keys are usage errors."""
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - fields)
    if unknown:
        takes = ", ".join(_flag(n) for n in sorted(fields)) or "no options"
        raise UsageError(f"{what} does not take {', '.join(_flag(n) for n in unknown)}; it takes {takes}")
    hints = typing.get_type_hints(cls)
    try:
        return cls(**{k: coerce(k, v, hints[k]) for k, v in values.items()})
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def load(cls: type[C], toml_file: Path | None, overrides: Mapping[str, Any], what: str) -> C:
    """Defaults, then ``toml_file`` (flat keys, or a table named like the method), then ``overrides``."""
    values: dict[str, Any] = {}
    if toml_file is not None:
        try:
            data = tomllib.loads(Path(toml_file).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"--config {toml_file}: file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"--config {toml_file}: not valid TOML ({exc})") from None
        values.update({k.replace("-", "_"): v for k, v in data.items() if not isinstance(v, dict)})
    values.update({k: v for k, v in overrides.items() if v is not None})
    return build(cls, values, what)


def to_dict(config: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def to_toml(config: Any) -> str:
    """Flat TOML for a config of scalars and tuples (None values are written as comments)."""
    lines = []
    for key, value in to_dict(config).items():
        if value is None:
            lines.append(f"# {key} = (unset)")
        elif isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        elif isinstance(value, list):
            lines.append(f"{key} = [{', '.join(repr(v) for v in value)}]")
        else:
            lines.append(f"{key} = {value!r}")
    return "\n".join(lines) + "\n"
