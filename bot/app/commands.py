"""The App's subcommands behind `bot.cli` (`serve`, `worker`; `setup`, `demo`): settings, logging,
then the process.

`bot.cli` imports this module only when one of these commands runs, so `mountie check` never
loads FastAPI, uvicorn, huey or PyGithub.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import IO

from bot.app.logging import setup_logging
from bot.app.settings import AppSettings, SettingsError, ensure_data_dir, load_settings

EXIT_ERROR = 2
DEFAULT_ENV_FILE = ".env"

log = logging.getLogger(__name__)


def load(args: argparse.Namespace, err: IO[str]) -> AppSettings | None:
    """Settings and logging for an App command; None (after one line on `err`) when they are wrong."""
    where = f"mountie {args.command}"
    env_file = Path(args.env_file or DEFAULT_ENV_FILE)
    if args.env_file and not env_file.is_file():
        print(f"{where}: error: --env-file {args.env_file}: no such file", file=err)
        return None
    try:
        settings = load_settings(env_file=env_file)
        ensure_data_dir(settings)
    except SettingsError as error:
        print(f"{where}: error: {error}", file=err)
        return None
    setup_logging(settings.log_level, settings.log_format, settings.secrets)
    return settings


def run_serve(args: argparse.Namespace, err: IO[str]) -> int:
    settings = load(args, err)
    if settings is None:
        return EXIT_ERROR
    from bot.app.server import serve

    return serve(
        settings,
        host=args.host,
        port=args.port,
        worker=not args.no_worker,
        workers=args.workers,
        shutdown_timeout=args.shutdown_timeout,
        env_file=args.env_file,
    )


def run_worker(args: argparse.Namespace, err: IO[str]) -> int:
    settings = load(args, err)
    if settings is None:
        return EXIT_ERROR
    from bot.jobs.supervisor import PARENT_ENV, watch_parent
    from bot.jobs.worker import run_worker as run

    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit():
        watch_parent(int(parent))
    return run(settings, workers=args.workers, shutdown_timeout=args.shutdown_timeout)


def run_setup(args: argparse.Namespace, err: IO[str]) -> int:
    """`mountie setup`: needs no settings (it is what writes them)."""
    from bot.app import setup_flow

    return setup_flow.run_setup(setup_flow.options_from_args(args), sys.stdout, err)


def run_demo(args: argparse.Namespace, err: IO[str]) -> int:
    """`mountie demo`: its own throwaway settings, never the ones in .env or the environment."""
    from bot.app.demo import run_demo as run

    return run(sys.stdout, err, timeout=args.timeout)
