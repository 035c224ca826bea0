"""Config overrides: nested mappings (TOML/YAML/JSON files, dotted CLI flags) onto frozen dataclasses.

Every key must name a field (``ConfigError`` listing the valid keys otherwise) and every value
is checked against the field's annotation: lists become tuples, ints become floats where a
float is expected, tables become nested dataclasses. Nothing is ``eval``-ed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import types
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from vmambair_core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser from PyPI (pyproject.toml installs it there)
    import tomli as tomllib


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, path: str) -> Any:
    """``value`` checked/converted to the annotation ``tp`` (lists become tuples, ints floats)."""
    origin, args = get_origin(tp), get_args(tp)
    bad = ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}")
    if origin in (Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise bad
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, option, path)
            except ConfigError:
                continue
        raise bad
    if origin is Literal:
        if value in args:
            return value
        raise ConfigError(f"{path}: expected one of {', '.join(map(repr, args))}, got {value!r}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise bad
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{path}: expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise bad
        return {_coerce(k, args[0], path): _coerce(v, args[1], f"{path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return apply_overrides(tp(), value, path)
        raise bad
    raise ConfigError(f"{path}: unsupported field type {tp!r}")  # pragma: no cover - a bug in this file


def apply_overrides(obj: Any, overrides: Mapping[str, Any], path: str = "") -> Any:
    """A copy of dataclass ``obj`` with nested ``overrides`` applied; unknown keys are errors."""
    hints = get_type_hints(type(obj))
    names = [f.name for f in dataclasses.fields(obj)]
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in names:
            raise ConfigError(f"unknown config key '{where}'; valid keys here: {', '.join(names)}")
        tp = hints[key]
        current = getattr(obj, key)
        nested = [a for a in (get_args(tp) or (tp,)) if dataclasses.is_dataclass(a)]
        if nested and isinstance(value, Mapping) and not isinstance(current, Mapping):
            base = current if current is not None else nested[0]()
            changes[key] = apply_overrides(base, value, where)
        else:
            changes[key] = _coerce(value, tp, where)
    try:
        return replace(obj, **changes)
    except TypeError as exc:  # pragma: no cover - replace() only fails on unknown names, checked above
        raise ConfigError(f"{path or 'config'}: {exc}") from None


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A mapping from a ``.toml``, ``.json`` or (when PyYAML is installed) ``.yaml``/``.yml`` file."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config file not found: {file}")
    suffix = file.suffix.lower()
    text = file.read_text(encoding="utf-8")
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml  # noqa: PLC0415 - optional
            except ImportError:
                raise ConfigError(
                    f"{file}: YAML needs PyYAML (pip install pyyaml), which vmambair does not install; "
                    "or write the same keys as TOML"
                ) from None
            data = yaml.safe_load(text)
        else:
            raise ConfigError(f"{file}: unknown config format {suffix!r}; use .toml, .json, .yaml or .yml")
    except ConfigError:
        raise
    except Exception as exc:  # parser errors of three libraries
        raise ConfigError(f"{file}: cannot parse: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a table of keys, got {type(data).__name__}")
    return data


def flatten_keys(mapping: Mapping[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for k, v in mapping.items():
        keys.add(prefix + str(k))
        if isinstance(v, Mapping):
            keys |= flatten_keys(v, f"{prefix}{k}.")
    return keys


def nest_dotted(dotted: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def merge_nested(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = merge_nested(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out
