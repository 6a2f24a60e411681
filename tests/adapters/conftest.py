"""Fixtures shared by the adapter test modules."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.adapters.fake_telegram import FakeTelegram
from tests.adapters.telegram_harness import TEST_LIMITS


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """The strict fake Bot API at `TEST_LIMITS`, stopped afterwards."""
    async with FakeTelegram(limits=TEST_LIMITS) as fake:
        yield fake
