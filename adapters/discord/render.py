"""Discord rendering: escaped and split message text, persistent buttons, and the answer modal.

Buttons carry everything they need in their custom id, and are `DynamicItem`s registered with the
client at start, so a button on a message sent before a restart still works. Modal submits are
handled by custom id too (see `DiscordAdapter`), for the same reason.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import discord

from bot import texts
from bot.i18n import Voice
from bot.types import Choice, QuestionRef

MAX_CONTENT = 2000
MAX_CUSTOM_ID = 100
MAX_ROWS = 5
PER_ROW = 5
MAX_INPUT = 4000  # a modal text input holds at most 4,000 characters

CHOICE_PREFIX = "feedbot:choice:"
CHOICE_TEMPLATE = r"feedbot:choice:(?P<value>.{1,85})"
ANSWER_TEMPLATE = r"feedbot:answer:(?P<run>\d{1,18}):(?P<rating>[01]):(?P<scale>5|10)"
MODAL_TEMPLATE = re.compile(r"feedbot:modal:(?P<run>\d{1,18}):(?P<rating>[01]):(?P<scale>5|10)")
ANSWER_INPUT = "answer"
# A staff alert's Reply button and its form (the submit becomes `/reply ANSWER_ID text`).
REPLY_TEMPLATE = r"feedbot:reply:(?P<answer>\d{1,18})"
REPLY_MODAL = re.compile(r"feedbot:replyform:(?P<answer>\d{1,18})")
REPLY_INPUT = "reply"
RATING_INPUT = "rating"

ChoiceHandler = Callable[[discord.Interaction, str], Awaitable[None]]
AnswerHandler = Callable[[discord.Interaction, QuestionRef], Awaitable[None]]
ReplyHandler = Callable[[discord.Interaction, int], Awaitable[None]]


# ---------------------------------------------------------------------- custom ids
def choice_id(value: str) -> str:
    custom_id = CHOICE_PREFIX + value
    if len(custom_id) > MAX_CUSTOM_ID:
        raise ValueError(f"choice value too long for a Discord custom id ({len(custom_id)} > {MAX_CUSTOM_ID})")
    return custom_id


def answer_id(question: QuestionRef) -> str:
    return f"feedbot:answer:{question.run_id}:{int(question.rating)}:{question.scale}"


def modal_id(question: QuestionRef) -> str:
    return f"feedbot:modal:{question.run_id}:{int(question.rating)}:{question.scale}"


def reply_id(answer: int) -> str:
    return f"feedbot:reply:{answer}"


def question_from(match: re.Match[str] | Mapping[str, str]) -> QuestionRef:
    return QuestionRef(run_id=int(match["run"]), rating=match["rating"] == "1", scale=int(match["scale"]))


# ---------------------------------------------------------------------- text
def split_text(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """Escape markdown, then split into parts of at most `limit` characters.

    The raw text is split first (at a line break or space where possible) and each part escaped on
    its own, so an escape sequence is never cut in half.
    """
    escape = discord.utils.escape_markdown
    if len(escape(text)) <= limit:
        return [escape(text)]
    parts: list[str] = []
    rest = text
    while rest:
        if len(escape(rest)) <= limit:
            parts.append(escape(rest))
            break
        lo, hi = 1, len(rest)  # largest prefix whose escaped form fits (escaping at most doubles it)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(escape(rest[:mid])) <= limit:
                lo = mid
            else:
                hi = mid - 1
        cut = lo
        for sep in ("\n", " "):
            at = rest.rfind(sep, 0, lo)
            if at > lo // 2:
                cut = at + 1
                break
        parts.append(escape(rest[:cut]).rstrip())
        rest = rest[cut:]
    return [p for p in parts if p] or [""]


def rating_bounds(scale: int) -> tuple[int, int]:
    return (0, 10) if scale == 10 else (1, 5)


def parse_rating(raw: str, scale: int) -> int | None:
    raw = raw.strip()
    if not raw.isdigit():
        return None
    value = int(raw)
    low, high = rating_bounds(scale)
    return value if low <= value <= high else None


# ---------------------------------------------------------------------- buttons
class ButtonKit:
    """The adapter's two persistent button types, and views built from them.

    discord.py gives an ephemeral message's view a 15-minute timeout, and a view that times out
    unregisters the DynamicItem templates it contains, for the whole client. So ephemeral messages
    get plain buttons with the same custom ids (the registered DynamicItems still answer them).
    """

    def __init__(
        self,
        on_choice: ChoiceHandler,
        on_answer: AnswerHandler,
        on_reply: ReplyHandler,
        voices: Callable[[str | None], Voice] | None = None,
    ) -> None:
        """`voices`: the words for a language (`Settings.voice`): the Answer and Reply buttons' labels."""
        self._voices: Callable[[str | None], Voice] = voices or (lambda code: Voice.choose(code, "en"))
        say_for = self._voices

        class ChoiceButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=CHOICE_TEMPLATE):
            def __init__(self, value: str, label: str | None = None, row: int | None = None) -> None:
                super().__init__(
                    discord.ui.Button(
                        label=(label or value)[:80], custom_id=choice_id(value), style=discord.ButtonStyle.secondary
                    ),
                    row=row,
                )
                self.value = value

            @classmethod
            async def from_custom_id(
                cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
            ) -> ChoiceButton:
                return cls(match["value"], getattr(item, "label", None))

            async def callback(self, interaction: discord.Interaction) -> None:
                await on_choice(interaction, self.value)

        class AnswerButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=ANSWER_TEMPLATE):
            def __init__(self, question: QuestionRef, row: int | None = None, label: str | None = None) -> None:
                super().__init__(
                    discord.ui.Button(
                        label=(label or say_for(question.language)(texts.ANSWER_BUTTON))[:80],
                        custom_id=answer_id(question),
                        style=discord.ButtonStyle.primary,
                    ),
                    row=row,
                )
                self.question = question

            @classmethod
            async def from_custom_id(
                cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
            ) -> AnswerButton:
                return cls(question_from(match), label=getattr(item, "label", None))

            async def callback(self, interaction: discord.Interaction) -> None:
                await on_answer(interaction, self.question)

        class ReplyButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=REPLY_TEMPLATE):
            def __init__(self, answer: int, row: int | None = None) -> None:
                super().__init__(
                    discord.ui.Button(
                        label=say_for(None)(texts.REPLY_BUTTON)[:80],
                        custom_id=reply_id(answer),
                        style=discord.ButtonStyle.primary,
                    ),
                    row=row,
                )
                self.answer = answer

            @classmethod
            async def from_custom_id(
                cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
            ) -> ReplyButton:
                return cls(int(match["answer"]))

            async def callback(self, interaction: discord.Interaction) -> None:
                await on_reply(interaction, self.answer)

        self.choice_type = ChoiceButton
        self.answer_type = AnswerButton
        self.reply_type = ReplyButton

    @property
    def dynamic_items(self) -> tuple[type[discord.ui.DynamicItem[Any]], ...]:
        return (self.choice_type, self.answer_type, self.reply_type)

    def view(
        self,
        choices: tuple[Choice, ...],
        question: QuestionRef | None,
        *,
        ephemeral: bool,
        answer: int | None = None,
    ) -> discord.ui.View | None:
        """Buttons for the choices, an Answer button for a question, a Reply button for a staff alert."""
        extra_rows = (question is not None) + (answer is not None)
        rows_for_choices = MAX_ROWS - extra_rows
        if len(choices) > rows_for_choices * PER_ROW:
            raise ValueError(f"too many choices for one Discord message: {len(choices)}")
        if not choices and question is None and answer is None:
            return None
        view = discord.ui.View(timeout=None)
        for i, choice in enumerate(choices):
            row = i // PER_ROW
            if ephemeral:
                view.add_item(
                    discord.ui.Button(
                        label=choice.label[:80],
                        custom_id=choice_id(choice.value),
                        row=row,
                        style=discord.ButtonStyle.secondary,
                    )
                )
            else:
                view.add_item(self.choice_type(choice.value, choice.label, row=row))
        if question is not None:
            row = (len(choices) + PER_ROW - 1) // PER_ROW
            if ephemeral:
                view.add_item(
                    discord.ui.Button(
                        label=self._voices(question.language)(texts.ANSWER_BUTTON)[:80],
                        custom_id=answer_id(question),
                        row=row,
                        style=discord.ButtonStyle.primary,
                    )
                )
            else:
                view.add_item(self.answer_type(question, row=row))
        if answer is not None:
            row = (len(choices) + PER_ROW - 1) // PER_ROW + (question is not None)
            if ephemeral:
                view.add_item(
                    discord.ui.Button(
                        label=self._voices(None)(texts.REPLY_BUTTON)[:80],
                        custom_id=reply_id(answer),
                        row=row,
                        style=discord.ButtonStyle.primary,
                    )
                )
            else:
                view.add_item(self.reply_type(answer, row=row))
        return view

    def view_from_message(self, message: discord.Message | None, *, ephemeral: bool) -> discord.ui.View | None:
        """Our buttons as they were on `message` (to put them back when handling a press failed)."""
        if message is None:
            return None
        choices, question, answer = _buttons_of(message)
        return self.view(choices, question, ephemeral=ephemeral, answer=answer)

    @staticmethod
    def question_of(message: discord.Message) -> QuestionRef | None:
        """The question whose "Answer" button `message` carries, if it does."""
        return _buttons_of(message)[1]

    def view_without_question(self, message: discord.Message) -> discord.ui.View | None:
        """`message`'s buttons without its "Answer" button (None: no buttons left)."""
        choices, _, answer = _buttons_of(message)
        return self.view(choices, None, ephemeral=False, answer=answer)


def _buttons_of(message: discord.Message) -> tuple[tuple[Choice, ...], QuestionRef | None, int | None]:
    """The choices, the question (its "Answer" button) and the answer (its "Reply" button) on `message`."""
    choices: list[Choice] = []
    question: QuestionRef | None = None
    answer: int | None = None
    for row in message.components:
        for component in getattr(row, "children", []):
            custom_id = getattr(component, "custom_id", None) or ""
            if custom_id.startswith(CHOICE_PREFIX):
                choices.append(Choice(getattr(component, "label", None) or "?", custom_id[len(CHOICE_PREFIX) :]))
            elif (match := re.fullmatch(ANSWER_TEMPLATE, custom_id)) is not None:
                question = question_from(match)
            elif (match := re.fullmatch(REPLY_TEMPLATE, custom_id)) is not None:
                answer = int(match["answer"])
    return tuple(choices), question, answer


# ---------------------------------------------------------------------- modal
class AnswerModal(discord.ui.Modal):
    """The answer form. Its submit is handled by custom id (`modal_values`), not by `on_submit`,
    so a form opened before a restart, or left open a long time, is still received."""

    def __init__(self, question: QuestionRef, prompt: str, say: Voice) -> None:
        """`say`: the language of the customer opening it (their Discord locale)."""
        super().__init__(title=say(texts.ANSWER_FORM_TITLE)[:45], custom_id=modal_id(question), timeout=15 * 60)
        self.add_item(
            discord.ui.TextInput(
                label=say(texts.ANSWER_FORM_FIELD)[:45],
                custom_id=ANSWER_INPUT,
                style=discord.TextStyle.paragraph,
                placeholder=(prompt.strip().splitlines() or [""])[0][:100] or None,
                max_length=MAX_INPUT,
                required=True,
            )
        )
        if question.rating:
            low, high = rating_bounds(question.scale)
            self.add_item(
                discord.ui.TextInput(
                    label=say(texts.RATING_FORM_FIELD, low=low, high=high)[:45],
                    custom_id=RATING_INPUT,
                    style=discord.TextStyle.short,
                    placeholder=say(texts.RATING_FORM_HINT, low=low, high=high)[:100],
                    max_length=2,
                    required=False,
                )
            )


class ReplyModal(discord.ui.Modal):
    """Staff answer a customer about answer `answer` (handled by custom id, like AnswerModal)."""

    def __init__(self, answer: int, say: Voice) -> None:
        super().__init__(
            title=say(texts.REPLY_FORM_TITLE, answer_id=answer)[:45],
            custom_id=f"feedbot:replyform:{answer}",
            timeout=15 * 60,
        )
        self.add_item(
            discord.ui.TextInput(
                label=say(texts.REPLY_FORM_FIELD)[:45],
                custom_id=REPLY_INPUT,
                style=discord.TextStyle.paragraph,
                max_length=3000,
                required=True,
            )
        )


def modal_values(data: Mapping[str, Any]) -> dict[str, str]:
    """custom id -> value of the text inputs in a modal-submit interaction's data."""
    values: dict[str, str] = {}

    def walk(components: list[Any]) -> None:
        for component in components:
            if not isinstance(component, dict):
                continue
            if component.get("type") == 1:
                walk(component.get("components", []))
            elif component.get("type") == 18:
                walk([component.get("component")])
            elif isinstance(component.get("custom_id"), str):
                values[component["custom_id"]] = str(component.get("value") or "")

    walk(list(data.get("components", [])))
    return values
