"""The `feedbot` command line.

Configuration problems print one line each (the key and what is wrong) and exit 2; a database or
platform that cannot be reached prints one line and exits 1; never a traceback. The config file is
`--config`, else $FEEDBOT_CONFIG, else ./config.toml.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.exc import DBAPIError

from bot.config import ConfigProblems, Settings, load_settings
from bot.errors import ConfigError, FeedbotError
from bot.runtime.banner import feedbot_version, starting_line
from bot.runtime.logs import configure_logging, protect
from storage.db import DatabaseUnreachable, StorageError, describe_error

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2
CONFIG_ENV = "FEEDBOT_CONFIG"
DEFAULT_CONFIG = Path("config.toml")

log = logging.getLogger("feedbot.cli")

VERBOSE_HELP = "debug logging, customer text included"
LOG_FORMAT_HELP = "text lines (default), or one JSON object a line with platform, chat and user ids as fields"
CONFIG_HELP = f"configuration file (default: ${CONFIG_ENV}, else ./config.toml)"

MAIN_EPILOG = f"""\
examples:
  feedbot check                          check ./config.toml, its variables and the database
  feedbot --config /etc/feedbot/config.toml run
  FEEDBOT_CONFIG=/etc/feedbot/config.toml feedbot run --log-format json
  feedbot demo                           a feedback round on the local adapter, no tokens

The configuration file is --config, else ${CONFIG_ENV}, else ./config.toml.
Exit codes: 0 ok; 1 the database or a platform cannot be reached; 2 a configuration problem.
"""

EPILOGS = {
    "demo": """\
examples:
  feedbot demo
  feedbot demo --db demo.db && feedbot digest --config demo.toml   (a config whose url is sqlite:///demo.db)
""",
    "run": """\
examples:
  feedbot run --config config.toml
  feedbot run -v                        debug logging, customer text included
  feedbot run --log-format json         one JSON object a line, for a log collector

Migrates the database at start. SIGTERM or SIGINT stops it gracefully.
""",
    "check": """\
examples:
  feedbot check --config config.toml
  feedbot check --online                also ask Telegram and Discord whether they accept the tokens

Reports every problem at once and changes nothing (the database is neither created nor migrated).
Exit codes: 0 ok; 1 the database or a platform cannot be reached; 2 a configuration problem.
""",
    "export": """\
examples:
  feedbot export --format csv --output answers.csv
  feedbot export --since 2026-01-01 > answers.json

Reads an existing database at the current revision; run `feedbot db upgrade` first after an update.
""",
    "digest": """\
examples:
  feedbot digest --period month
  feedbot digest --chart digest.png
""",
    "deadletters": """\
examples:
  feedbot deadletters                   list the updates set aside after failing too often
  feedbot deadletters --retry 12        hand dead letter 12 to the engine again (after a fix)

An update that keeps failing with a bug is retried a few times, then set aside here with its error
and acknowledged, so it never holds up the others. Replies of a replayed update are queued in the
outbox; the running feedbot sends them.
""",
    "db": """\
examples:
  feedbot db upgrade --config config.toml
  feedbot db upgrade --url postgresql://feedbot@127.0.0.1/feedbot
""",
}

EPILOGS["upgrade"] = EPILOGS["db"]


def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """-v and --log-format, accepted before the subcommand and after it. In the subcommands' copies the
    defaults are suppressed, so an option given before the subcommand is not reset by the subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    verbose: Any = False if defaults else argparse.SUPPRESS
    log_format: Any = "text" if defaults else argparse.SUPPRESS
    common.add_argument("-v", "--verbose", action="store_true", default=verbose, help=VERBOSE_HELP)
    common.add_argument("--log-format", choices=("text", "json"), default=log_format, help=LOG_FORMAT_HELP)
    return common


def _config_option(defaults: bool) -> argparse.ArgumentParser:
    option = argparse.ArgumentParser(add_help=False)
    default: Any = None if defaults else argparse.SUPPRESS
    option.add_argument("--config", type=Path, metavar="FILE", default=default, help=CONFIG_HELP)
    return option


def _subparser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str, config: bool = True
) -> argparse.ArgumentParser:
    parents = [_common_options(False)] + ([_config_option(False)] if config else [])
    return sub.add_parser(
        name,
        help=text,
        description=text[0].upper() + text[1:] + ".",
        parents=parents,
        epilog=EPILOGS.get(name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feedbot",
        description="Self-hosted customer-feedback bot for Telegram and Discord.",
        parents=[_common_options(True), _config_option(True)],
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"feedbot {feedbot_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _subparser(sub, "demo", "play feedback rounds on the local adapter (no tokens, no network)", config=False)
    demo.add_argument("--db", type=Path, metavar="PATH", help="keep the demo's SQLite database at PATH")

    _subparser(sub, "run", "run the bot on every configured platform until SIGTERM or SIGINT")

    check = _subparser(sub, "check", "check the configuration, its environment variables and the database")
    check.add_argument("--online", action="store_true", help="also check each token with its platform")

    export = _subparser(sub, "export", "export answers as JSON or CSV")
    export.add_argument("--format", choices=("json", "csv"), default="json", help="output format (default: json)")
    export.add_argument("--since", help="only answers from this date (YYYY-MM-DD, UTC) or ISO 8601 time on")
    export.add_argument("--output", type=Path, metavar="FILE", help="write to FILE instead of standard output")
    export.add_argument("--anonymize", action="store_true", help="leave out user ids and display names")

    digest = _subparser(sub, "digest", "print the digest of the last complete period (or the current one)")
    digest.add_argument("--period", choices=("day", "week", "month"), help="default: [digest] period")
    digest.add_argument("--current", action="store_true", help="the period so far (default: the last complete one)")
    digest.add_argument("--poll", metavar="ID", help="only this poll")
    digest.add_argument("--chart", type=Path, metavar="FILE", help="also write the chart as a PNG to FILE")

    dead = _subparser(sub, "deadletters", "list the inbound updates set aside after failing, or replay one")
    dead.add_argument("--retry", type=int, metavar="ID", help="handle dead letter ID again")

    db = _subparser(sub, "db", "database maintenance: feedbot db upgrade", config=False)
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = _subparser(db_sub, "upgrade", "apply the database migrations (run also does this at start)")
    upgrade.add_argument(
        "--url", help="database URL instead of the configuration's (a relative SQLite path: from the working folder)"
    )
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


@dataclass(frozen=True)
class ConfigSource:
    path: Path
    origin: str  # how it was chosen, for messages

    @classmethod
    def choose(cls, given: Path | None, environ: Mapping[str, str]) -> ConfigSource:
        if given is not None:
            return cls(given, "--config")
        if environ.get(CONFIG_ENV, "").strip():
            return cls(Path(environ[CONFIG_ENV].strip()), f"${CONFIG_ENV}")
        return cls(DEFAULT_CONFIG, f"the default; give --config FILE or set ${CONFIG_ENV}")

    def load(self, environ: Mapping[str, str]) -> Settings:
        try:
            return load_settings(self.path, environ)
        except ConfigProblems:
            raise
        except ConfigError as exc:
            raise self.explain(exc) from None

    def explain(self, problem: ConfigError) -> ConfigError:
        """A file that cannot be read is named with how it was chosen."""
        if problem.key == str(self.path) and "cannot read file" in problem.problem:
            return ConfigError(problem.key, f"{problem.problem} ({self.origin})")
        return problem


async def _check(source: ConfigSource, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from bot.runtime.check import check_config

    report = await check_config(source.path, environ, online=args.online)
    for problem in map(source.explain, report.problems):
        print(f"feedbot: configuration error: {problem.key}: {problem.problem}", file=sys.stderr)
    for failure in report.failures:
        print(f"feedbot: {failure}", file=sys.stderr)
    if not report.problems:
        for note in report.notes:
            print(note)
    return report.exit_code


async def _run(source: ConfigSource, settings: Settings, environ: Mapping[str, str]) -> int:
    from bot.runtime.app import build_runtime
    from storage.single_process import single_process

    settings.require_environment(environ)
    protect(settings.token(platform, environ) for platform in settings.platforms())
    log.info(starting_line(settings, source.path))
    with single_process(settings.storage.url):  # SQLite: a second `run` on the file refuses to start
        runtime = build_runtime(settings, environ=environ, scale_out=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await runtime.run(stop)
    return EXIT_OK


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.reporting.analyser import Analyser
    from bot.reporting.export import export_answers
    from bot.runtime.clock import SystemClock
    from storage.db import open_current
    from storage.reporting import Reports

    since = parse_since(args.since)
    engine = await open_current(settings.storage.url)
    try:
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
    return EXIT_OK


async def _digest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.reporting.digest import build_digest
    from bot.runtime.clock import SystemClock
    from storage.db import open_current
    from storage.reporting import Reports

    if args.poll is not None and settings.poll(args.poll) is None:
        raise ConfigError("--poll", f"no poll with id {args.poll!r} in the configuration")
    engine = await open_current(settings.storage.url)
    try:
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
    return EXIT_OK


async def _db_upgrade(url: str) -> int:
    from storage.db import make_engine, schema_state, upgrade

    engine = make_engine(url)
    try:
        await upgrade(engine)
        state = await schema_state(engine)
    finally:
        await engine.dispose()
    print(f"database is up to date (revision {state.current})")
    return EXIT_OK


def _url_from_option(raw: str) -> str:
    from storage.urls import async_url

    try:
        return async_url(raw, Path.cwd())
    except ValueError as exc:
        raise ConfigError("--url", str(exc)) from None


async def _main(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if args.command == "demo":
        from bot.runtime.demo import run_demo

        return await run_demo(sys.stdout, args.db)
    source = ConfigSource.choose(args.config, environ)
    if args.command == "check":
        return await _check(source, args, environ)
    if args.command == "db" and args.url:
        url = _url_from_option(args.url)
        return await _with_database(url, _db_upgrade(url))
    settings = source.load(environ)
    url = settings.storage.url
    if args.command == "db":
        return await _with_database(url, _db_upgrade(url))
    if args.command == "run":
        return await _with_database(url, _run(source, settings, environ))
    if args.command == "export":
        return await _with_database(url, _export(settings, args))
    if args.command == "deadletters":
        from bot.runtime.deadletters import list_dead_letters, retry_dead_letter

        if args.retry is not None:
            return await _with_database(url, retry_dead_letter(settings, args.retry, sys.stdout))
        return await _with_database(url, list_dead_letters(settings, sys.stdout))
    return await _with_database(url, _digest(settings, args))


async def _with_database(url: str, command: Coroutine[Any, Any, int]) -> int:
    """Run a command; a database failure that was not translated on the way becomes one line naming `url`."""
    try:
        return await command
    except DBAPIError as exc:
        raise DatabaseUnreachable(f"database error: {describe_error(exc)}", url) from exc


def _print_error(message: str, stream: TextIO = sys.stderr) -> None:
    print(f"feedbot: {message}", file=stream)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.verbose, args.log_format)
    if args.command == "demo" and not args.verbose:
        logging.getLogger("feedbot").setLevel(logging.WARNING)
    try:
        return asyncio.run(_main(args, os.environ))
    except ConfigProblems as exc:
        for problem in exc.problems:
            _print_error(f"configuration error: {problem.key}: {problem.problem}")
        return EXIT_CONFIG
    except ConfigError as exc:
        _print_error(f"configuration error: {exc}")
        return EXIT_CONFIG
    except StorageError as exc:
        _print_error(str(exc))
        return EXIT_FAILURE
    except FeedbotError as exc:  # e.g. a platform unreachable at start: the supervisor restarts us
        _print_error(str(exc))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK
    except OSError as exc:  # a file cannot be written, a port is taken
        where = f" ({exc.filename})" if exc.filename else ""
        _print_error(f"{exc.strerror or exc}{where}")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
