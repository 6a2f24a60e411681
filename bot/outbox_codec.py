"""Outbound messages to outbox rows and back.

A reply or digest is stored rendered (platform-neutral JSON plus the image bytes); a question or
reminder is stored as a reference to its run and rendered when it is sent, from the run's own
snapshot of question, rating and scale (a later config change does not alter a run under way).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot import texts
from bot.i18n import Voice
from bot.types import ChatRef, Choice, Image, Outbound, QuestionRef
from storage.models import DeliveryKind
from storage.outbox import Claim, OutboxMessage


def to_row(message: Outbound, kind: DeliveryKind, *, customer_id: int | None = None) -> OutboxMessage:
    body: dict[str, Any] = {"text": message.text}
    if message.choices:
        body["choices"] = [[c.label, c.value] for c in message.choices]
    if message.reply_to is not None:
        body["reply_to"] = message.reply_to
    if message.image is not None:
        body["image"] = {"filename": message.image.filename, "content_type": message.image.content_type}
    return OutboxMessage(
        kind=kind,
        platform=message.chat.platform,
        chat_id=message.chat.chat_id,
        user_id=message.chat.user_id,
        customer_id=customer_id,
        body=json.dumps(body, ensure_ascii=False),
        image=message.image.data if message.image is not None else None,
        reply_handle=message.reply_handle,
    )


def from_claim(claim: Claim, voices: Callable[[str | None], Voice]) -> Outbound:
    """`voices`: the texts for a platform language (`Settings.voice`); a question is rendered in the
    customer's language: the run's question in it when the poll gave one, else the default one."""
    chat = ChatRef(claim.platform, claim.chat_id, claim.user_id)
    if claim.is_question:
        assert claim.run_id is not None and claim.question is not None
        say = voices(claim.language)
        question = claim.question_in(say.language) or claim.question
        text = say(texts.REMINDER, question=question) if claim.kind is DeliveryKind.REMINDER else question
        return Outbound(
            chat=chat,
            text=text,
            question=QuestionRef(
                run_id=claim.run_id, rating=claim.asks_rating, scale=claim.scale, language=say.language
            ),
        )
    body = json.loads(claim.body or "{}")
    image = None
    if claim.image is not None:
        meta = body.get("image") or {}
        image = Image(
            filename=str(meta.get("filename", "image.png")),
            data=claim.image,
            content_type=str(meta.get("content_type", "image/png")),
        )
    return Outbound(
        chat=chat,
        text=str(body.get("text", "")),
        choices=tuple(Choice(str(label), str(value)) for label, value in body.get("choices", [])),
        reply_to=body.get("reply_to"),
        image=image,
        reply_handle=claim.reply_handle,
        parts_sent=claim.parts_sent,
    )
