"""The command line's logging: ``--log-level``, ``--debug`` and ``--log-file``, every line
through the redacting formatter, whoever logs it (botocore prints Authorization headers at
DEBUG)."""

from __future__ import annotations

import argparse
import logging
import sys

from .._redact import RedactingFormatter

LEVELS = ("debug", "info", "warning", "error")
SDK_LOGGERS = ("botocore", "aiobotocore", "boto3", "s3transfer", "aiohttp", "urllib3")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def logging_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("logging (secrets are always masked)")
    group.add_argument(
        "--log-level",
        choices=LEVELS,
        default="warning",
        help="the resilient_s3 logger's level (warning); info shows retries as they happen",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        help="DEBUG for resilient-s3 and the AWS SDK's loggers: every HTTP request (its "
        "operation, URL, status, time and headers, secrets masked), every part, every retry",
    )
    group.add_argument("--log-file", metavar="PATH", help="write the log here, not to stderr")


def configure(args: argparse.Namespace) -> None:
    """One handler on the root logger, redacting; the levels the options ask for."""
    handler: logging.Handler
    path = getattr(args, "log_file", None)
    handler = logging.FileHandler(path) if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    level = "debug" if getattr(args, "debug", False) else getattr(args, "log_level", "warning")
    logging.getLogger("resilient_s3").setLevel(level.upper())
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if args.debug else logging.WARNING)
