"""The ``resilient-s3`` command line: the parser and the dispatch to each command's module.

``bench`` is handed over before parsing, so that the benchmark harness (a sibling package)
is imported only when it runs. A reader of standard output that goes away (``| head -1``) ends
the command quietly with 141, as the shell reports a program killed by SIGPIPE (Python ignores
that signal and raises BrokenPipeError instead); Ctrl-C ends it with 130.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import chaos, cors, diagnostics, logs, maintain, presign, upload
from .common import EXIT_BROKEN_PIPE, EXIT_CODES, EXIT_INTERRUPTED
from .output import reader_gone

BENCH_HELP = "compare S3 upload clients on the same server, data and faults"


def version() -> str:
    import importlib.metadata
    import platform

    from .._version import __version__

    sdk = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("boto3", "botocore", "awscrt")
    )
    return f"resilient-s3 {__version__} ({sdk}, Python {platform.python_version()})"


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resilient-s3",
        description="Resilient S3 uploads: retries, resume, diagnosis.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=version())
    sub = parser.add_subparsers(dest="command", required=True)
    upload.add_parsers(sub)
    maintain.add_parser(sub)
    presign.add_parsers(sub)
    cors.add_parser(sub)
    diagnostics.add_parsers(sub)
    chaos.add_parser(sub)
    sub.add_parser("bench", help=BENCH_HELP, add_help=False)  # parsed by the harness itself
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        status = _run(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()  # a reader that went away is met here, not in the interpreter's exit
    except BrokenPipeError:
        reader_gone()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("resilient-s3: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return status


def _run(arguments: list[str]) -> int:
    if arguments[:1] == ["bench"]:
        from resilient_s3_bench import cli as bench

        return bench.main(arguments[1:], prog="resilient-s3 bench")
    command_line = parser()
    args = command_line.parse_args(arguments)
    logs.configure(args)
    if args.command == "chaos":
        return chaos.run(args)
    if args.command == "cleanup":
        return maintain.run(args)
    if args.command == "presign":
        return presign.run_presign(args)
    if args.command == "cors":
        return cors.run(args)
    if args.command == "explain":
        return diagnostics.run_explain(args)
    if args.command == "doctor":
        return diagnostics.run_doctor(args)
    return upload.run(command_line, args)
