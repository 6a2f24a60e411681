"""`feedbot export`: answers as JSON or CSV, streamed in batches (memory stays flat)."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from typing import TextIO

from storage.export import ExportRow, iter_answers
from storage.store import Store

FIELDS = ("poll", "run", "platform", "user", "display_name", "answer", "rating", "late", "answered_at")


def _record(row: ExportRow) -> dict[str, object]:
    return {
        "poll": row.poll,
        "run": row.run,
        "platform": row.platform,
        "user": row.user,
        "display_name": row.display_name,
        "answer": row.answer,
        "rating": row.rating,
        "late": row.late,
        "answered_at": row.answered_at.isoformat(),
    }


async def export_answers(store: Store, out: TextIO, fmt: str, since: datetime | None = None) -> int:
    """Write every answer (answered at or after `since`) to `out`; returns how many were written."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        async for batch in iter_answers(store, since=since):
            for row in batch:
                writer.writerow(_record(row))
                count += 1
        return count
    out.write("[")
    async for batch in iter_answers(store, since=since):
        for row in batch:
            out.write(",\n " if count else "\n ")
            out.write(json.dumps(_record(row), ensure_ascii=False))
            count += 1
    out.write("\n]\n" if count else "]\n")
    return count
