"""The durable outbox: queueing, fenced claims, and what happened to each send.

Everything feedbot sends is a `delivery` row first, committed in the same transaction as its cause.
A worker claims due rows (status `sending`, its id in `claimed_by`, a fresh `claim_token`); every
write-back names the token (`WHERE status = 'sending' AND claim_token = :token`), so a claim that was
released meanwhile (its worker went silent and another took over) can never be recorded twice.
On PostgreSQL rows are claimed `FOR UPDATE SKIP LOCKED`: concurrent workers never wait for each
other and never claim the same row. A chat with a send in flight gets nothing more claimed until
that send is recorded, so each chat's messages leave one at a time and in order.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, insert, literal, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from storage import tables as t
from storage.models import PRIORITY, DeliveryKind, DeliveryStatus, UTCDateTime

d, r, c, a = t.delivery.c, t.poll_run.c, t.customer.c, t.answer.c
CHAT_LOCK_SPACE = 0x66656564  # first key of the per-chat advisory locks of a claim ("feed")
RECORD_CHUNK = 64  # sends recorded by one UPDATE (a batch of more takes several)
FRESH_STATISTICS_AFTER = 1_000  # a fan-out queueing this many rows renews PostgreSQL's statistics


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A rendered message to queue (replies, digests): `body` is the adapter-neutral message as JSON."""

    kind: DeliveryKind
    platform: str
    chat_id: str
    body: str
    user_id: str | None = None
    customer_id: int | None = None
    run_id: int | None = None
    image: bytes | None = None
    reply_handle: str | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """One claimed delivery. Question and reminder rows carry their run's snapshot to render."""

    delivery_id: int
    token: str
    kind: DeliveryKind
    platform: str
    chat_id: str
    user_id: str | None
    attempts: int
    customer_id: int | None
    run_id: int | None
    body: str | None
    image: bytes | None
    reply_handle: str | None
    poll_id: str | None = None
    question: str | None = None
    asks_rating: bool = False
    scale: int = 5
    parts_sent: int = 0  # leading parts of a multi-part message that arrived on an earlier attempt
    question_translations: str | None = None  # JSON {language: question}, from the run
    language: str | None = None  # the customer's platform language, as last seen

    def question_in(self, language: str) -> str | None:
        """The run's question in `language` when the poll gave one, else its default question."""
        if self.question_translations:
            translated = json.loads(self.question_translations).get(language)
            if isinstance(translated, str):
                return translated
        return self.question

    @property
    def is_question(self) -> bool:
        return self.kind in (DeliveryKind.QUESTION, DeliveryKind.REMINDER)


def _fenced(claim: Claim) -> Any:
    return and_(d.id == claim.delivery_id, d.status == DeliveryStatus.SENDING, d.claim_token == claim.token)


_QUEUE = t.prepared(lambda _: insert(t.delivery).returning(d.id))

# The columns a set-based queueing (INSERT ... SELECT) fills, in the order `_queued` selects them.
_QUEUED_COLUMNS = (
    "kind",
    "status",
    "priority",
    "platform",
    "chat_id",
    "user_id",
    "run_id",
    "customer_id",
    "attempts",
    "outcome_unknown",
    "next_attempt_at",
    "created_at",
)


def _queued(kind: DeliveryKind, run_id: int, address: tuple[Any, Any, Any, Any], now: datetime) -> Any:
    """SELECT the values of one pending row of `kind` per row of the source; `address` is its
    (platform, chat id, user id, customer id) columns."""
    return select(
        literal(kind.value),
        literal(DeliveryStatus.PENDING.value),
        literal(PRIORITY[kind]),
        *address[:3],
        literal(run_id),
        address[3],
        literal(0),
        literal(False),
        literal(now, type_=UTCDateTime()),
        literal(now, type_=UTCDateTime()),
    )


class OutboxRepo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    # ------------------------------------------------------------------ queueing
    async def queue(self, message: OutboxMessage, now: datetime) -> int:
        values = {
            "kind": message.kind.value,
            "status": DeliveryStatus.PENDING.value,
            "priority": PRIORITY[message.kind],
            "platform": message.platform[:32],
            "chat_id": message.chat_id[:64],
            "user_id": message.user_id[:64] if message.user_id else None,
            "run_id": message.run_id,
            "customer_id": message.customer_id,
            "body": message.body,
            "image": message.image,
            "reply_handle": message.reply_handle,
            "attempts": 0,
            "outcome_unknown": False,
            "next_attempt_at": now,
            "created_at": now,
        }
        return int((await self.conn.execute(_QUEUE(self.conn), values)).scalar_one())

    async def fan_out(self, run_id: int, tag: str | None, now: datetime, asked_since: datetime | None = None) -> int:
        """Queue the run's question for every subscribed, reachable customer (with the run's tag) who
        has not paused their questions (/pause) and, with `asked_since`, was not asked since then
        (anti-fatigue).

        One INSERT ... SELECT: customers are never loaded into memory, and customers already queued
        (a resumed fan-out) are skipped by NOT EXISTS and the unique (run, customer, kind) key.
        """
        conditions = [
            *self._audience(tag),
            or_(c.paused_until.is_(None), c.paused_until <= now),
            ~exists().where(d.run_id == run_id, d.customer_id == c.id, d.kind == DeliveryKind.QUESTION),
        ]
        if asked_since is not None:
            conditions.append(~self._asked_since(run_id, asked_since))
        address = (c.platform, c.chat_id, c.platform_user_id, c.id)
        source = _queued(DeliveryKind.QUESTION, run_id, address, now).where(and_(*conditions))
        stmt = insert(t.delivery).from_select(list(_QUEUED_COLUMNS), source)
        queued = int((await self.conn.execute(stmt)).rowcount or 0)
        if queued >= FRESH_STATISTICS_AFTER and self.conn.dialect.name == "postgresql":
            # PostgreSQL plans the claims from its statistics of the table, which autovacuum renews
            # only a while later: planned for the table as it was before thousands of rows arrived,
            # a claim can scan every row per candidate (0.1 s instead of 1 ms). ANALYZE counts this
            # transaction's own rows; it takes a lock that blocks no reads or writes.
            await self.conn.execute(text("ANALYZE delivery"))
        return queued

    @staticmethod
    def _audience(tag: str | None) -> list[Any]:
        conditions: list[Any] = [c.subscribed.is_(True), c.reachable.is_(True)]
        if tag:
            ct = t.customer_tag.c
            conditions.append(exists().where(ct.customer_id == c.id, ct.tag == tag))
        return conditions

    @staticmethod
    def _asked_since(run_id: int, since: datetime) -> Any:
        """The customer was sent another run's question since `since`, or has one waiting to go."""
        other = t.delivery.alias("other")
        o = other.c
        return (
            exists()
            .where(o.customer_id == c.id, o.kind == DeliveryKind.QUESTION, o.run_id != run_id)
            .where(
                or_(
                    and_(o.status == DeliveryStatus.SENT, o.sent_at >= since),
                    o.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)),
                )
            )
        )

    async def count_asked_recently(self, run_id: int, tag: str | None, now: datetime, since: datetime) -> int:
        """Customers a run with `tag` would ask (not paused) but who were asked since `since`."""
        stmt = (
            select(func.count())
            .select_from(t.customer)
            .where(
                *self._audience(tag),
                or_(c.paused_until.is_(None), c.paused_until <= now),
                self._asked_since(run_id, since),
            )
        )
        return int((await self.conn.execute(stmt)).scalar_one())

    async def count_paused(self, tag: str | None, now: datetime) -> int:
        """Customers a run with `tag` would ask but for their /pause."""
        stmt = select(func.count()).select_from(t.customer).where(*self._audience(tag), c.paused_until > now)
        return int((await self.conn.execute(stmt)).scalar_one())

    async def queue_reminders(self, run_id: int, now: datetime) -> int:
        """One reminder per customer who was sent the question and has not answered (never twice)."""
        question = t.delivery.alias("q")
        q = question.c
        address = (q.platform, q.chat_id, q.user_id, q.customer_id)
        source = (
            _queued(DeliveryKind.REMINDER, run_id, address, now)
            .select_from(question.join(t.customer, c.id == q.customer_id))
            .where(
                q.run_id == run_id,
                q.kind == DeliveryKind.QUESTION,
                q.status == DeliveryStatus.SENT,
                c.subscribed.is_(True),
                c.reachable.is_(True),
                ~exists().where(a.run_id == run_id, a.customer_id == q.customer_id),
                q.answered.is_(False),  # an anonymous answer does not name its customer; the question row does
                ~exists().where(d.run_id == run_id, d.customer_id == q.customer_id, d.kind == DeliveryKind.REMINDER),
            )
        )
        stmt = insert(t.delivery).from_select(list(_QUEUED_COLUMNS), source)
        result = await self.conn.execute(stmt)
        return int(result.rowcount or 0)

    # ------------------------------------------------------------------ claims
    async def claim(
        self,
        worker_id: str,
        platforms: Sequence[str],
        now: datetime,
        limit: int,
        *,
        chat_gap: float = 0.0,
        group_per_minute: float = math.inf,
    ) -> list[Claim]:
        """Claim up to `limit` due deliveries on `platforms` for `worker_id`.

        `chat_gap`: a chat whose last send ended less than this many seconds ago gets nothing now;
        `group_per_minute`: nor does a group chat (a row without `user_id`) that had this many sends
        end within the last minute. Both are the per-chat pace when several processes send; one
        process keeps them in its pacer.
        Rows that must not go out any more are settled here instead of being claimed: the customer
        stopped or is unreachable, the run has closed, or the customer has answered meanwhile.
        """
        if limit <= 0 or not platforms:
            return []
        candidates = (
            select(d.id)
            .where(
                d.status == DeliveryStatus.PENDING,
                d.next_attempt_at <= now,
                d.platform.in_(list(platforms)),
                ~self._chat_busy(d.platform, d.chat_id, d.user_id, now, chat_gap, group_per_minute),
            )
            .order_by(d.priority, d.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = [int(x) for x in (await self.conn.execute(candidates)).scalars()]
        if ids and self.conn.dialect.name == "postgresql":
            ids = await self._own_chats(ids, now, chat_gap, group_per_minute)
        if not ids:
            return []
        ids = await self._settle_unwanted(ids, now)
        if not ids:
            return []
        token = secrets.token_hex(8)
        await self.conn.execute(
            update(t.delivery)
            .where(d.id.in_(ids), d.status == DeliveryStatus.PENDING)
            .values(
                status=DeliveryStatus.SENDING,
                claimed_by=worker_id[:64],
                claim_token=token,
                attempts=d.attempts + 1,
                next_attempt_at=now,
            )
        )
        rows = await self.conn.execute(
            select(
                d.id,
                d.kind,
                d.platform,
                d.chat_id,
                d.user_id,
                d.attempts,
                d.customer_id,
                d.run_id,
                d.body,
                d.image,
                d.reply_handle,
                d.parts_sent,
                r.poll_id,
                r.question,
                r.asks_rating,
                r.scale,
                r.question_translations,
                c.language,
            )
            .select_from(
                t.delivery.outerjoin(t.poll_run, r.id == d.run_id).outerjoin(t.customer, c.id == d.customer_id)
            )
            .where(d.id.in_(ids), d.claim_token == token)
            .order_by(d.priority, d.id)
        )
        return [
            Claim(
                delivery_id=row.id,
                token=token,
                kind=DeliveryKind(row.kind),
                platform=row.platform,
                chat_id=row.chat_id,
                user_id=row.user_id,
                attempts=row.attempts,
                customer_id=row.customer_id,
                run_id=row.run_id,
                body=row.body,
                image=row.image,
                reply_handle=row.reply_handle,
                poll_id=row.poll_id,
                question=row.question,
                asks_rating=bool(row.asks_rating),
                scale=row.scale or 5,
                parts_sent=row.parts_sent or 0,
                question_translations=row.question_translations,
                language=row.language,
            )
            for row in rows
        ]

    @staticmethod
    def _chat_busy(
        platform: Any, chat_id: Any, user_id: Any, now: datetime, chat_gap: float, group_per_minute: float
    ) -> Any:
        """True when the chat has a send in flight, or (with `chat_gap`) one that ended too recently,
        or (with `group_per_minute`, for a group chat: no `user_id`) its minute's sends already.

        One EXISTS per status, never an OR inside one: each is then an index lookup on
        (platform, chat_id, status) per candidate, not a scan of every row with that status.
        """
        in_flight = t.delivery.alias("busy")
        busy = exists().where(
            in_flight.c.platform == platform,
            in_flight.c.chat_id == chat_id,
            in_flight.c.status == DeliveryStatus.SENDING,
        )
        reasons: list[ColumnElement[bool]] = [busy]
        if chat_gap > 0:
            sent = t.delivery.alias("recent")
            recent = exists().where(
                sent.c.platform == platform,
                sent.c.chat_id == chat_id,
                sent.c.status == DeliveryStatus.SENT,
                sent.c.sent_at > now - timedelta(seconds=chat_gap),
            )
            reasons.append(recent)
        if not math.isinf(group_per_minute):
            minute = t.delivery.alias("minute")
            sent_this_minute = (
                select(func.count())
                .where(
                    minute.c.platform == platform,
                    minute.c.chat_id == chat_id,
                    minute.c.status == DeliveryStatus.SENT,
                    minute.c.sent_at > now - timedelta(minutes=1),
                )
                .scalar_subquery()
            )
            reasons.append(and_(user_id.is_(None), sent_this_minute >= group_per_minute))
        return or_(*reasons)

    async def _own_chats(self, ids: list[int], now: datetime, chat_gap: float, group_per_minute: float) -> list[int]:
        """PostgreSQL: keep the candidates whose chat this transaction now owns.

        Another process may be claiming the same chat's previous message in a transaction not yet
        committed; our candidate query could not see it. A transaction-scoped advisory lock per chat
        settles it: a chat locked by another claim is skipped; once we hold a chat's lock, a fresh
        statement (a fresh snapshot, taken after any earlier claimant committed) checks again that
        the chat is still free by `_chat_busy`'s rules.
        """
        rows = (await self.conn.execute(select(d.id, d.platform, d.chat_id).where(d.id.in_(ids)))).all()
        chats = sorted({(row.platform, row.chat_id) for row in rows})
        locked = await self.conn.execute(
            text(
                "SELECT p, c FROM unnest(CAST(:platforms AS text[]), CAST(:chats AS text[])) AS t(p, c) "
                "WHERE pg_try_advisory_xact_lock(:space, hashtext(p || ':' || c))"
            ),
            {"platforms": [p for p, _ in chats], "chats": [c for _, c in chats], "space": CHAT_LOCK_SPACE},
        )
        owned = {(row.p, row.c) for row in locked}
        if owned:
            busy = t.delivery.alias("recheck")
            still_busy = await self.conn.execute(
                select(busy.c.platform, busy.c.chat_id)
                .where(
                    tuple_(busy.c.platform, busy.c.chat_id).in_(sorted(owned)),
                    self._chat_busy(busy.c.platform, busy.c.chat_id, busy.c.user_id, now, chat_gap, group_per_minute),
                )
                .distinct()
            )
            owned -= {(row.platform, row.chat_id) for row in still_busy}
        return sorted(row.id for row in rows if (row.platform, row.chat_id) in owned)

    async def _settle_unwanted(self, ids: list[int], now: datetime) -> list[int]:
        """Skip the questions and reminders among `ids` that must not go out; returns the rest."""
        question = t.delivery.alias("question")
        answered = or_(
            exists().where(a.run_id == d.run_id, a.customer_id == d.customer_id),
            exists().where(
                question.c.run_id == d.run_id,
                question.c.customer_id == d.customer_id,
                question.c.kind == DeliveryKind.QUESTION,
                question.c.answered.is_(True),
            ),
        )
        rows = await self.conn.execute(
            select(d.id, d.kind, c.subscribed, c.reachable, c.unreachable_reason, r.closes_at, answered)
            .select_from(
                t.delivery.outerjoin(t.customer, c.id == d.customer_id).outerjoin(t.poll_run, r.id == d.run_id)
            )
            .where(d.id.in_(ids))
        )
        keep: list[int] = []
        skipped: dict[str, list[int]] = {}
        for row in rows:
            reason = None
            if row.kind in (DeliveryKind.QUESTION, DeliveryKind.REMINDER):
                if not row.subscribed:
                    reason = "customer unsubscribed"
                elif not row.reachable:
                    reason = row.unreachable_reason or "customer unreachable"
                elif row.closes_at is not None and now >= row.closes_at:
                    reason = "run closed before it could be sent"
                elif row[6]:
                    reason = "customer answered already"
            if reason is None:
                keep.append(row.id)
            else:
                skipped.setdefault(reason, []).append(row.id)
        for reason, skip_ids in skipped.items():
            await self.conn.execute(
                update(t.delivery)
                .where(d.id.in_(skip_ids), d.status == DeliveryStatus.PENDING)
                .values(status=DeliveryStatus.SKIPPED, last_error=reason[:512])
            )
        return sorted(keep)

    async def release_claims_of_silent_workers(self, live_since: datetime, now: datetime) -> int:
        """Claims whose worker has not beaten its heart since `live_since` go back to pending.

        Their outcome is unknown (the process may have died after the platform accepted the message):
        such a question counts as asked, so an answer to it is taken (`storage.conversation.asked`).
        """
        w = t.worker.c
        live = select(w.id).where(w.heartbeat_at >= live_since)
        result = await self.conn.execute(
            update(t.delivery)
            .where(d.status == DeliveryStatus.SENDING, (d.claimed_by.is_(None)) | (d.claimed_by.not_in(live)))
            .values(
                status=DeliveryStatus.PENDING,
                claimed_by=None,
                claim_token=None,
                outcome_unknown=True,
                next_attempt_at=now,
                last_error="claim released: its worker went silent mid-send",
            )
        )
        return int(result.rowcount or 0)

    # ------------------------------------------------------------------ outcomes (all fenced)
    async def record_sent(self, claim: Claim, message_id: str, now: datetime) -> bool:
        return claim.delivery_id in await self.record_sent_many([(claim, message_id)], now)

    async def record_sent_many(self, sent: Sequence[tuple[Claim, str]], now: datetime) -> set[int]:
        """Record several sends (claim, platform message id); returns the delivery ids recorded.

        Each row is fenced by its own claim's token; a row whose claim was released or settled
        meanwhile is left alone and missing from the result.
        """
        recorded: set[int] = set()
        for start in range(0, len(sent), RECORD_CHUNK):
            recorded |= await self._record_chunk(sent[start : start + RECORD_CHUNK], now)
        reminded = sorted(
            {
                (claim.run_id, claim.customer_id)
                for claim, _ in sent
                if claim.kind is DeliveryKind.REMINDER and claim.delivery_id in recorded
            },
            key=repr,
        )
        if reminded:
            await self.conn.execute(
                update(t.delivery)
                .where(tuple_(d.run_id, d.customer_id).in_(reminded), d.kind == DeliveryKind.QUESTION)
                .values(reminded_at=now)
            )
        return recorded

    async def _record_chunk(self, sent: Sequence[tuple[Claim, str]], now: datetime) -> set[int]:
        """One UPDATE for up to RECORD_CHUNK sends, padded to a power of two with ids no row has:
        a statement's shape (one CASE branch per row) is then one of a handful, not one per batch
        size, so SQLAlchemy's and the driver's statement caches stay small."""
        size = 1 << max(0, len(sent) - 1).bit_length()
        padding = range(1, size - len(sent) + 1)
        message_ids = {claim.delivery_id: message_id[:64] for claim, message_id in sent}
        message_ids.update({-n: "" for n in padding})
        fences = [(claim.delivery_id, claim.token) for claim, _ in sent] + [(-n, "") for n in padding]
        result = await self.conn.execute(
            update(t.delivery)
            .where(tuple_(d.id, d.claim_token).in_(fences), d.status == DeliveryStatus.SENDING)
            .values(
                status=DeliveryStatus.SENT,
                platform_message_id=case(message_ids, value=d.id),
                sent_at=now,
                last_error=None,
                claim_token=None,
                outcome_unknown=False,
                reply_handle=None,
            )
            .returning(d.id)
        )
        return {int(x) for x in result.scalars()}

    async def retry(self, claim: Claim, error: str, next_attempt_at: datetime, parts_sent: int | None = None) -> bool:
        """Back to the queue for another attempt; `parts_sent`: how many leading parts arrived so far."""
        result = await self.conn.execute(
            update(t.delivery)
            .where(_fenced(claim))
            .values(
                parts_sent=claim.parts_sent if parts_sent is None else parts_sent,
                status=DeliveryStatus.PENDING,
                last_error=error[:512],
                next_attempt_at=next_attempt_at,
                claim_token=None,
                claimed_by=None,
                outcome_unknown=False,
            )
        )
        return bool(result.rowcount)

    async def hold(self, claim: Claim, until: datetime, parts_sent: int | None = None) -> bool:
        """Hand a claimed delivery back until `until` without counting an attempt (quiet hours, shutdown)."""
        result = await self.conn.execute(
            update(t.delivery)
            .where(_fenced(claim))
            .values(
                parts_sent=claim.parts_sent if parts_sent is None else parts_sent,
                status=DeliveryStatus.PENDING,
                attempts=d.attempts - 1,
                next_attempt_at=until,
                claim_token=None,
                claimed_by=None,
            )
        )
        return bool(result.rowcount)

    async def fail(self, claim: Claim, error: str) -> bool:
        result = await self.conn.execute(
            update(t.delivery)
            .where(_fenced(claim))
            .values(status=DeliveryStatus.FAILED, last_error=error[:512], claim_token=None, reply_handle=None)
        )
        return bool(result.rowcount)

    # ------------------------------------------------------------------ reading
    async def next_due(self) -> datetime | None:
        stmt = select(func.min(d.next_attempt_at)).where(d.status == DeliveryStatus.PENDING)
        value: datetime | None = (await self.conn.execute(stmt)).scalar_one_or_none()
        return value

    async def oldest_foreign_claim(self, worker_id: str) -> datetime | None:
        """The last heartbeat of the quietest other worker holding claims: when they may be released."""
        w = t.worker.c
        stmt = (
            select(func.min(w.heartbeat_at))
            .select_from(t.delivery.join(t.worker, w.id == d.claimed_by))
            .where(d.status == DeliveryStatus.SENDING, d.claimed_by != worker_id)
        )
        value: datetime | None = (await self.conn.execute(stmt)).scalar_one_or_none()
        return value

    async def depth(self) -> int:
        """Deliveries waiting or in flight (the outbox depth a monitor watches)."""
        stmt = (
            select(func.count())
            .select_from(t.delivery)
            .where(d.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)))
        )
        return int((await self.conn.execute(stmt)).scalar_one())

    async def prune_sent(self, before: datetime) -> int:
        """Sent replies and digests are kept a while for support, then deleted (they may quote customers)."""
        result = await self.conn.execute(
            t.delivery.delete().where(
                d.kind.in_((DeliveryKind.REPLY, DeliveryKind.DIGEST)),
                d.status.in_((DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)),
                d.created_at < before,
            )
        )
        return int(result.rowcount or 0)

    async def claim_digest_post(
        self, platform: str, chat_id: str, period: str, period_start: datetime, now: datetime
    ) -> bool:
        """True if this process should queue this digest; False if it was queued already."""
        stmt = (
            t.insert_ignoring_conflicts(self.conn, t.digest_post)
            .values(platform=platform, chat_id=chat_id, period=period, period_start=period_start, posted_at=now)
            .returning(t.digest_post.c.id)
        )
        return (await self.conn.execute(stmt)).first() is not None
