"""Frozen dataclass configs: built from defaults, a TOML file and flags (in that order), saved with outputs.

One convention for invalid values: a config's ``__post_init__`` raises ``ValueError`` naming the field,
and :func:`build` turns that, and every value of the wrong type or length, into a one-line
:class:`~medsegkit.errors.UsageError` that says which command or method it came from.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from medsegkit.errors import UsageError

C = TypeVar("C")


def default(cls: type, name: str) -> Any:
    """The default of field ``name`` of the dataclass ``cls`` (for help texts: defaults are written once).

    Example:
        >>> from medsegkit.fundus.config import SourceConfig
        >>> default(SourceConfig, "epochs")
        50
    """
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.default
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def parse_pairs(pairs: list[str], flag: str = "--set") -> dict[str, str]:
    """Turn repeated ``key=value`` options into a dict (``key`` with dashes or underscores).

    Example:
        >>> parse_pairs(["max-iter=5", "lr = 0.1"])
        {'max_iter': '5', 'lr': '0.1'}
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} expects key=value, got {pair!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def overrides(pairs: list[str] | None, flags: Mapping[str, Any], flag: str = "--set") -> dict[str, Any]:
    """``--set key=value`` pairs, then the flags that were given (None: not given), in that order of precedence.

    Example:
        >>> overrides(["lr=0.1", "passes=3"], {"passes": None, "seed": 2})
        {'lr': '0.1', 'passes': '3', 'seed': 2}
    """
    return parse_pairs(pairs or [], flag) | {k: v for k, v in flags.items() if v is not None}


def _scalar(name: str, value: Any, target: type) -> Any:
    if target is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name} expects true or false, got {value!r}")
    if target is int and isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{name} expects int, got {value!r}")
    if target in (int, float) and isinstance(value, bool):
        raise ValueError(f"{name} expects {target.__name__}, got {value!r}")
    try:
        return target(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} expects {target.__name__}, got {value!r}") from None


def _not_a_choice(name: str, choices: tuple[Any, ...], value: Any) -> ValueError:
    return ValueError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")


def coerce(name: str, value: Any, hint: Any) -> Any:
    """Convert ``value`` (from TOML or a flag) to the annotated type ``hint``; ``ValueError`` names the field.

    Example:
        >>> coerce("scale", "0.8,1.2", tuple[float, float])
        (0.8, 1.2)
    """
    if value is None:
        return None
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = [a for a in typing.get_args(hint) if a is not type(None)] if union else [hint]
    target = options[0] if options else hint
    origin = typing.get_origin(target)
    if origin is typing.Literal:
        choices = typing.get_args(target)
        for choice in choices:
            if value == choice or str(value) == str(choice):
                return choice
        raise _not_a_choice(name, choices, value)
    if origin is tuple:
        items = (
            [v for v in value.split(",")]
            if isinstance(value, str)
            else list(value)
            if isinstance(value, (list, tuple))
            else [value]
        )
        kinds = typing.get_args(target)
        if len(kinds) == 2 and kinds[1] is Ellipsis:
            kinds = (kinds[0],) * len(items)
        if len(items) != len(kinds):
            raise ValueError(f"{name} expects {len(kinds)} comma-separated values, got {value!r}")
        return tuple(
            _scalar(name, v.strip() if isinstance(v, str) else v, k) for v, k in zip(items, kinds, strict=True)
        )
    if target in (int, float, str, bool):
        return _scalar(name, value, target)
    return value


def check_choices(config: Any) -> None:
    """Every ``Literal``-annotated field of the dataclass instance ``config`` holds one of its choices, so
    the choices are written once, in the annotation; ``ValueError`` names the field (as :func:`coerce`).

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class C:
        ...     mode: typing.Literal["a", "b"] = "a"
        >>> check_choices(C(mode="c"))
        Traceback (most recent call last):
        ...
        ValueError: mode must be one of a, b, got 'c'
    """
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        hint = hints[field.name]
        if typing.get_origin(hint) is typing.Literal:
            value = getattr(config, field.name)
            if value not in typing.get_args(hint):
                raise _not_a_choice(field.name, typing.get_args(hint), value)


def _coerced(cls: type, values: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``values`` converted to the field types of ``cls``; an unknown key or a bad value is a usage error
    that starts with ``what``."""
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - fields)
    if unknown:
        takes = ", ".join(sorted(fields)) or "no options"
        raise UsageError(f"{what} does not take {', '.join(unknown)}; it takes {takes}")
    hints = typing.get_type_hints(cls)
    try:
        return {k: coerce(k, v, hints[k]) for k, v in values.items()}
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None


def build(cls: type[C], values: Mapping[str, Any], what: str) -> C:
    """Instantiate the frozen dataclass ``cls`` from ``values``; bad values are usage errors."""
    kwargs = _coerced(cls, values, what)
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None


def read_toml(toml_file: Path, table: str | None = None) -> dict[str, Any]:
    """The flat keys of ``toml_file`` (or of its ``[table]``); a missing or broken file is a usage error."""
    try:
        data = tomllib.loads(Path(toml_file).read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError):
        raise UsageError(f"--config {toml_file}: file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"--config {toml_file}: not valid TOML ({exc})") from None
    if table is not None:
        data = data.get(table, {})
        if not isinstance(data, dict):
            raise UsageError(f"--config {toml_file}: [{table}] must be a table")
    return {k.replace("-", "_"): v for k, v in data.items() if not isinstance(v, dict)}


def load(cls: type[C], toml_file: Path | None, overrides: Mapping[str, Any], what: str, table: str | None = None) -> C:
    """Defaults, then ``toml_file`` (flat keys, or those of ``[table]``), then ``overrides`` (None values ignored).

    An unknown key or a bad value that comes from the file is reported as the file's (``--config FILE
    [table]: ...``), one given as an override as ``what``'s."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if toml_file is None:
        return build(cls, given, what)
    from_file = read_toml(toml_file, table)
    _coerced(
        cls,
        {k: v for k, v in from_file.items() if k not in given},
        f"--config {toml_file}" + (f" [{table}]" if table else ""),
    )
    return build(cls, {**from_file, **given}, what)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value  # as TOML and JSON give it back


def to_dict(config: Any) -> dict[str, Any]:
    return {k: _plain(v) for k, v in dataclasses.asdict(config).items()}


def defaults(cls: type) -> dict[str, Any]:
    """The default of every field of the dataclass ``cls`` that has one, as :func:`to_dict` writes it."""
    return {f.name: _plain(f.default) for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}


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
