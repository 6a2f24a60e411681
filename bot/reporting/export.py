"""`feedbot export`: every answer with its poll, question, run, tags, scale, themes and tone.

Streamed in batches (memory stays flat). The analyser runs first, so `themes` are current: a list
of theme names in JSON (`[]` when none matched), one `;`-joined cell in CSV; null (an empty cell)
only for an answer stored after that run. `tone` is praise, neutral or problem (storage.tone),
`late` true/false. `--anonymize` drops user ids and display names.

CSV cells that a spreadsheet would read as a formula (starting with =, +, -, @, tab or carriage
return) get a leading apostrophe: an answer like `=HYPERLINK(...)` stays text (OWASP's advice on
CSV injection).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TextIO

from storage.reporting import ExportRow, Reports
from storage.tone import tone

FIELDS = (
    "poll",
    "question",
    "run",
    "platform",
    "user",
    "display_name",
    "tags",
    "answer",
    "rating",
    "scale",
    "late",
    "themes",
    "tone",
    "answered_at",
)
ANONYMOUS_DROPS = ("user", "display_name")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Make a CSV cell inert for spreadsheets: formulas become text."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _record(row: ExportRow, anonymize: bool) -> dict[str, object]:
    record: dict[str, object] = {
        "poll": row.poll,
        "question": row.question,
        "run": row.run,
        "platform": row.platform,
        "user": row.user,
        "display_name": row.display_name,
        "tags": list(row.tags),
        "answer": row.answer,
        "rating": row.rating,
        "scale": row.scale,
        "late": row.late,
        "themes": None if row.themes is None else list(row.themes),
        "tone": tone(row.rating, row.scale),
        "answered_at": row.answered_at.isoformat(),
    }
    if anonymize:
        for key in ANONYMOUS_DROPS:
            del record[key]
    return record


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return neutralise(";".join(str(v) for v in value))
    return neutralise(str(value))


def fields(anonymize: bool) -> Sequence[str]:
    return [f for f in FIELDS if not (anonymize and f in ANONYMOUS_DROPS)]


async def export_answers(
    reports: Reports,
    out: TextIO,
    fmt: str,
    since: datetime | None = None,
    *,
    fingerprint: str | None = None,
    anonymize: bool = False,
) -> int:
    """Write every answer (answered at or after `since`) to `out`; returns how many were written.

    `fingerprint` is the analyser's (bot.reporting.analyser): themes analysed under another configuration,
    or before the text was edited, are exported as unknown (null) rather than wrong.
    """
    count = 0
    if fmt == "csv":
        writer = csv.writer(out)
        names = fields(anonymize)
        writer.writerow(names)
        async for batch in reports.iter_export(since, fingerprint):
            for row in batch:
                record = _record(row, anonymize)
                writer.writerow([_csv_cell(record[name]) for name in names])
                count += 1
        return count
    out.write("[")
    async for batch in reports.iter_export(since, fingerprint):
        for row in batch:
            out.write(",\n " if count else "\n ")
            out.write(json.dumps(_record(row, anonymize), ensure_ascii=False))
            count += 1
    out.write("\n]\n" if count else "]\n")
    return count
