"""The export stands on its own, and its CSV cannot smuggle formulas into a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from bot.reporting.analyser import Analyser
from bot.reporting.export import export_answers, neutralise
from storage.reporting import Reports
from storage.store import Store
from tests.reporting_seed import add_customers, run_poll
from tests.support import make_settings

HOSTILE = (
    ('=HYPERLINK("http://evil.example","click")', 1),
    ("+1+2", 2),
    ("-2+3", 3),
    ("@SUM(A1:A2)", 4),
    ("\tindented", 5),
    ("\rreturn", None),
    ("plain, with a comma", 5),
)


def test_neutralise_only_touches_formula_starts() -> None:
    assert [neutralise(t) for t, _ in HOSTILE] == [
        '\'=HYPERLINK("http://evil.example","click")',
        "'+1+2",
        "'-2+3",
        "'@SUM(A1:A2)",
        "'\tindented",
        "'\rreturn",
        "plain, with a comma",
    ]


async def test_csv_cells_that_look_like_formulas_become_text(store: Store) -> None:
    await add_customers(store, len(HOSTILE), tag="=cmd")
    await run_poll(store, datetime(2026, 3, 3, 10, tzinfo=UTC), sent=len(HOSTILE), answers=HOSTILE)
    settings = make_settings({"themes": [{"name": "Links", "keywords": ["hyperlink"]}]})
    analyser = Analyser(store.db, settings)
    await analyser.refresh(datetime(2026, 3, 9, tzinfo=UTC))
    out = io.StringIO()
    count = await export_answers(Reports(store.db), out, "csv", fingerprint=analyser.fingerprint)
    assert count == len(HOSTILE)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["answer"] for r in rows] == [neutralise(text) for text, _ in HOSTILE]
    assert {r["tags"] for r in rows} == {"'=cmd"}
    assert rows[0]["themes"] == "Links" and rows[0]["tone"] == "problem" and rows[5]["tone"] == "neutral"
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values())

    anonymous = io.StringIO()
    await export_answers(Reports(store.db), anonymous, "json", anonymize=True)
    records = json.loads(anonymous.getvalue())
    assert all("user" not in r and "display_name" not in r for r in records)
    assert records[0]["answer"] == HOSTILE[0][0]  # JSON keeps the text as written
    assert records[0]["themes"] is None  # no fingerprint given: themes are not vouched for
