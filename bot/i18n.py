"""Saying a text in a language: gettext catalogs, config overrides, and Babel for dates and numbers.

The language of a message is the customer's platform language (Telegram's `language_code`, Discord's
locale) when feedbot has a catalog for it, else `[engine] language`. `de-AT` and `de_DE` use the `de`
catalog. A text without a translation is said in English (gettext returns the msgid), so a text
added after the catalogs were last updated still reads, in English, until `make texts` and a
translator catch up.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

from bot.texts import PluralText, Text

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "feedbot"
SOURCE_LANGUAGE = "en"  # the msgids are English
_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_].*)?$")

Overrides = Mapping[str, Mapping[str, str]]  # language -> text key -> wording


@cache
def languages() -> tuple[str, ...]:
    """The languages with a compiled catalog (English always: it is the source)."""
    found = {p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")}
    return tuple(sorted(found | {SOURCE_LANGUAGE}))


def supported(code: str | None) -> str | None:
    """The catalog language for a platform language tag ('de-DE' -> 'de'), or None without one."""
    if not code:
        return None
    match = _TAG.match(code.strip())
    if match is None:
        return None
    primary = match.group(1).lower()
    return primary if primary in languages() else None


@cache
def catalog(language: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


class Voice:
    """The texts, dates and numbers of one language, with the config's overrides for it."""

    __slots__ = ("language", "locale", "_catalog", "_overrides")

    def __init__(self, language: str, overrides: Mapping[str, str] | None = None) -> None:
        self.language = language
        self.locale = Locale.parse(language)
        self._catalog = catalog(language)
        self._overrides = dict(overrides or {})

    @classmethod
    def choose(cls, code: str | None, default: str, overrides: Overrides | None = None) -> Voice:
        """The customer's language when there is a catalog for it, else `default`."""
        language = supported(code) or default
        wording = (overrides or {}).get(language) or {}
        return _voice(language, tuple(sorted(wording.items())))

    def __call__(self, text: Text | str, /, **values: object) -> str:
        """`text` filled in with `values`; a plain string is taken as an English msgid."""
        return self.wording(text).format(**values)

    def wording(self, text: Text | str) -> str:
        """The text in this language, its `{placeholders}` not yet filled in."""
        if isinstance(text, Text):
            return self._overrides.get(text.key) or self._catalog.pgettext(text.key, text.msgid)
        return self._catalog.gettext(text)

    def plural(self, text: PluralText, count: int, /, **values: object) -> str:
        """A counted text in the form the language uses for `count`; an override is one wording for all."""
        wording = self._overrides.get(text.key) or self._catalog.npgettext(text.key, text.one, text.other, count)
        return wording.format(count=self.number(count), **values)

    def number(self, value: float, places: int | None = None) -> str:
        """1234 -> '1,234' (en), '1.234' (de), '1 234' (fr); `places`: exactly that many decimals."""
        pattern = None if places is None else "#,##0" + ("." + "0" * places if places else "")
        return str(format_decimal(value, format=pattern, locale=self.locale))  # Babel's functions are untyped

    def percent(self, value: float) -> str:
        """62 -> '62%' (en), '62 %' (de, fr, es); a fraction keeps its decimals ('62.5%')."""
        return str(
            format_percent(value / 100, locale=self.locale, decimal_quantization=False)
        )  # Babel's functions are untyped

    def date(self, value: date, style: str = "medium") -> str:
        """'Mar 2, 2026' (en), '02.03.2026' (de), ... ; `style` full, long, medium or short."""
        return str(format_date(value, format=style, locale=self.locale))  # Babel's functions are untyped

    def pattern(self, value: datetime, pattern: str, tz: tzinfo | None = None) -> str:
        """A datetime in a CLDR pattern with this language's names ('EEE yyyy-MM-dd HH:mm': 'Mo. 2026-03-09')."""
        return str(
            format_datetime(value, format=pattern, tzinfo=tz, locale=self.locale)
        )  # Babel's functions are untyped


@lru_cache(maxsize=256)
def _voice(language: str, overrides: tuple[tuple[str, str], ...]) -> Voice:
    return Voice(language, dict(overrides))
