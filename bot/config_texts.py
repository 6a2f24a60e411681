"""The language settings of a config: `[engine] language`, per-language poll questions and `[texts.LANG]`.

Each is checked against what feedbot ships: a language needs a catalog (bot/locale), a text key must
exist (a misspelt one gets "did you mean"), and an override may use only the placeholders its text
has, so a wording that would fail when said is refused by `feedbot check` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.config_words import did_you_mean, unknown_key
from bot.errors import ConfigError
from bot.i18n import languages
from bot.texts import PLURAL_TEXTS, TEXTS, placeholders


def language_problem(code: object) -> str | None:
    """Why `code` cannot be a language of texts, or None when there is a catalog for it."""
    known = languages()
    if not isinstance(code, str) or code not in known:
        hint = did_you_mean(str(code).lower(), known) if isinstance(code, str) else ""
        return f"no texts in language {code!r}{hint or ''}; feedbot speaks {', '.join(known)}"
    return None


def question_table(value: object) -> str | dict[str, str]:
    """A poll's question: one text, or one per language (`{ en = "...", de = "..." }`)."""
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("must not be empty: it is the text customers are asked")
        return value
    if not isinstance(value, dict):
        raise ValueError('expected text in quotes or a table of languages such as { en = "...", de = "..." }')
    if not value:
        raise ValueError("the table has no languages")
    out: dict[str, str] = {}
    for code, text in value.items():
        problem = language_problem(code)
        if problem is not None:
            raise ValueError(f"{code}: {problem}")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{code}: expected the question in quotes, not empty")
        if len(text) > 1000:
            raise ValueError(f"{code}: too long: at most 1000 characters")
        out[code] = text
    return out


def text_overrides(raw: object) -> tuple[dict[str, dict[str, str]], list[ConfigError]]:
    """The `[texts]` table: `[texts.en] welcome = "..."`; returns the overrides and every problem."""
    if raw is None:
        return {}, []
    if not isinstance(raw, Mapping):
        return {}, [ConfigError("texts", 'expected tables such as [texts.en] with welcome = "..."')]
    overrides: dict[str, dict[str, str]] = {}
    problems: list[ConfigError] = []
    for code, table in raw.items():
        problem = language_problem(code)
        if problem is not None:
            problems.append(ConfigError(f"texts.{code}", problem))
            continue
        if not isinstance(table, Mapping):
            problems.append(ConfigError(f"texts.{code}", 'expected a table of texts such as welcome = "..."'))
            continue
        overrides[code] = {}
        for key, wording in table.items():
            problems += _override_problems(f"texts.{code}.{key}", key, wording)
            if not any(p.key == f"texts.{code}.{key}" for p in problems):
                overrides[code][key] = wording
    return overrides, problems


def _override_problems(where: str, key: str, wording: Any) -> list[ConfigError]:
    text = TEXTS.get(key) or PLURAL_TEXTS.get(key)
    if text is None:
        return [unknown_key(where, key, [*TEXTS, *PLURAL_TEXTS])]
    if not isinstance(wording, str) or not wording.strip():
        return [ConfigError(where, "expected the text in quotes, not empty")]
    try:
        used = placeholders(wording)
    except ValueError as exc:  # an unmatched { or }
        return [ConfigError(where, f"not a valid text: {exc} (write {{{{ and }}}} for a brace)")]
    extra = sorted(used - text.placeholders)
    if extra:
        allowed = ", ".join(f"{{{name}}}" for name in sorted(text.placeholders)) or "none"
        return [ConfigError(where, f"unknown placeholder {{{extra[0]}}}; this text has {allowed}")]
    return []
