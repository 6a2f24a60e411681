"""The `feedbot` command line. Configuration problems print one line and exit 2, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from bot.config import Settings, load_settings
from bot.errors import ConfigError, FeedbotError

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feedbot", description="Self-hosted customer-feedback bot.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (includes customer text)")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="play a feedback round on the local adapter (no tokens, no network)")
    demo.add_argument("--db", type=Path, help="keep the demo database at this SQLite path")

    for name, text in (("run", "run the bot"), ("check", "validate the configuration")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--config", required=True, type=Path)

    export = sub.add_parser("export", help="export answers as JSON or CSV")
    export.add_argument("--config", required=True, type=Path)
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("--since", help="only answers from this date (YYYY-MM-DD, UTC) or ISO time on")
    export.add_argument("--output", type=Path, help="write to this file instead of standard output")
    export.add_argument("--anonymize", action="store_true", help="leave out user ids and display names")

    digest = sub.add_parser("digest", help="print the digest for a period")
    digest.add_argument("--config", required=True, type=Path)
    digest.add_argument("--period", choices=("day", "week", "month"))
    digest.add_argument("--current", action="store_true", help="the period so far (default: the last complete one)")
    digest.add_argument("--poll", metavar="ID", help="only this poll")
    digest.add_argument("--chart", type=Path, help="write the chart PNG here")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("--config", type=Path)
    upgrade.add_argument("--url", help="database URL (instead of --config)")
    return parser


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError("--since", f"expected YYYY-MM-DD or an ISO 8601 time, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # HTTP client libraries log request URLs, and Telegram's contain the bot token.
    for noisy in ("httpx", "httpcore", "telegram", "discord", "apscheduler", "aiosqlite", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def _check(settings: Settings, path: Path) -> int:
    settings.require_tokens()
    platforms = [name for name in ("telegram", "discord") if getattr(settings, name) is not None]
    print(
        f"{path}: OK – {len(settings.polls)} poll(s), {len(settings.goals)} goal(s), "
        f"platforms: {', '.join(platforms) or 'none'}"
    )
    return 0


async def _run(settings: Settings) -> int:
    from bot.app import build_runtime

    settings.require_tokens()
    runtime = build_runtime(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runtime.run(stop)
    return 0


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.analyser import Analyser
    from bot.clock import SystemClock
    from bot.export import export_answers
    from storage.db import make_engine, upgrade
    from storage.reporting import Reports

    since = parse_since(args.since)
    engine = make_engine(settings.storage.url)
    try:
        await upgrade(engine)
        analyser = Analyser(engine, settings)
        await analyser.refresh(SystemClock().now())
        reports = Reports(engine)
        fingerprint, anonymize = analyser.fingerprint, args.anonymize
        if args.output:
            with args.output.open("w", encoding="utf-8", newline="") as out:
                count = await export_answers(
                    reports, out, args.format, since, fingerprint=fingerprint, anonymize=anonymize
                )
            print(f"wrote {count} answers to {args.output}", file=sys.stderr)
        else:
            await export_answers(reports, sys.stdout, args.format, since, fingerprint=fingerprint, anonymize=anonymize)
    finally:
        await engine.dispose()
    return 0


async def _digest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from bot.digest import build_digest
    from storage.db import make_engine, upgrade
    from storage.reporting import Reports

    if args.poll is not None and settings.poll(args.poll) is None:
        raise ConfigError("--poll", f"no poll with id {args.poll!r} in the configuration")
    engine = make_engine(settings.storage.url)
    try:
        await upgrade(engine)
        digest = await build_digest(
            Reports(engine),
            settings,
            args.period or settings.digest.period,
            SystemClock().now(),
            args.poll,
            current=args.current,
            chart=args.chart is not None,
        )
    finally:
        await engine.dispose()
    print(digest.text)
    if args.chart:
        args.chart.write_bytes(digest.chart_png)
        print(f"chart written to {args.chart}", file=sys.stderr)
    return 0


async def _db_upgrade(args: argparse.Namespace) -> int:
    from storage.db import make_engine, upgrade

    if args.url:
        url = args.url
    elif args.config:
        url = load_settings(args.config).storage.url
    else:
        raise ConfigError("--config", "give --config FILE or --url URL")
    engine = make_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    print("database is up to date")
    return 0


async def _main(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from bot.demo import run_demo

        return await run_demo(sys.stdout, args.db)
    if args.command == "db":
        return await _db_upgrade(args)
    settings = load_settings(args.config)
    if args.command == "check":
        return await _check(settings, args.config)
    if args.command == "run":
        return await _run(settings)
    if args.command == "export":
        return await _export(settings, args)
    return await _digest(settings, args)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    if args.command == "demo" and not args.verbose:
        logging.getLogger("feedbot").setLevel(logging.WARNING)
    try:
        return asyncio.run(_main(args))
    except ConfigError as exc:
        print(f"feedbot: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except DBAPIError as exc:  # the database is unreachable, missing or refuses us
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        print(f"feedbot: database error (storage.url): {reason}", file=sys.stderr)
        return 1
    except FeedbotError as exc:  # e.g. a platform unreachable at start: the supervisor restarts us
        print(f"feedbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except OSError as exc:  # a file, or the database server, cannot be reached
        print(f"feedbot: {exc.strerror or exc} ({exc.filename or 'storage.url'})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
