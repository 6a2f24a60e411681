"""Validation errors in plain words: the key as written in the TOML file, and what is wrong with it.

pydantic reports "Input should be a valid integer"; a person editing config.toml wants
"polls[0].scale: expected 5 or 10, got 7" and, for a typo, "did you mean 'schedule'?".
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from bot.errors import ConfigError


def key_path(prefix: str, loc: Iterable[int | str]) -> str:
    """`polls[0].schedule` from a prefix and pydantic's location (which names its own validators too)."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("function-") or "[" in part or part in {"str", "int", "float", "bool", "list", "tuple"}:
            continue
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown_key(key: str, name: str, allowed: Iterable[str]) -> ConfigError:
    allowed = list(allowed)
    hint = did_you_mean(name, allowed) or f"; known keys: {', '.join(allowed)}"
    return ConfigError(key, f"unknown key{hint}")


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def plain_problem(error: Mapping[str, Any]) -> str:
    """One pydantic error in plain words (never "Input should be ...")."""
    kind = str(error["type"])
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    got = f", got {_show(error['input'])}" if "input" in error else ""
    if kind == "missing":
        return "required key is missing"
    if kind in {"value_error", "assertion_error"}:
        return str(ctx.get("error", error["msg"])).removeprefix("Value error, ")
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}{got}"
    if kind in {"string_type", "string_unicode"}:
        return f"expected text in quotes{got}"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"expected a whole number{got}"
    if kind in {"float_type", "float_parsing", "finite_number"}:
        return f"expected a number{got}"
    if kind in {"bool_type", "bool_parsing"}:
        return f"expected true or false{got}"
    if kind in {"list_type", "tuple_type", "set_type"}:
        return f"expected a list such as [1, 2]{got}"
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        return f"expected a table of keys{got}"
    if kind in {"too_short", "string_too_short"}:
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"needs at least {least} characters or items{got}"
    if kind in {"too_long", "string_too_long"}:
        return f"too long: at most {ctx.get('max_length')} characters or items"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}{got}"
    if kind == "greater_than":
        return f"must be more than {ctx.get('gt')}{got}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}{got}"
    if kind == "less_than":
        return f"must be less than {ctx.get('lt')}{got}"
    if kind in {"time_type", "time_parsing"}:
        return f"expected a time such as 09:30{got}"
    message = str(error.get("msg", kind))
    return message.replace("Input should be", "expected").replace("Value error, ", "")
