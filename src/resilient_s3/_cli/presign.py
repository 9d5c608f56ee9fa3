"""``resilient-s3 presign`` and ``resilient-s3 cors``: URLs for clients without credentials,
and whether a browser may use them."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from typing import Any

from .._exceptions import UploadError
from .._presigned import PresignedMultipart, PresignedPost, PresignedRequest
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    command,
    duration,
    failed,
    part_size,
    s3_url,
    session_of,
    size,
    where_options,
)

# Options every mode takes: accepted before the mode too (``presign --json put ...``), as
# they were when the mode was a positional argument.
_SHARED = ("expires", "content_type", "json", "endpoint_url", "region", "profile")
_LOGGING = ("log_level", "debug", "log_file")
_CORS_MODES = ("put", "multipart", "post", "uppy")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def add_parsers(sub: Any) -> None:
    presign = command(
        sub,
        "presign",
        help="presign an upload for a client without credentials",
        description="Print a presigned URL (or a multipart upload's part URLs, or a browser "
        "form's fields) and the exact headers the client must send. URLs never outlive the "
        "signing credentials, and are signed at the server's time. Each mode takes its own "
        "options: `resilient-s3 presign MODE --help`.",
    )
    _shared_options(presign, "URL lifetime: 15m (put, post), 1h (multipart parts)")
    modes = presign.add_subparsers(dest="mode", required=True, metavar="{put,multipart,post}")

    put = _mode(
        modes,
        "put",
        help="a URL for one PUT of the whole object (up to 5 GiB)",
        description="Print a URL for one PUT of the whole object and the headers to send "
        "with it (all signed).",
        target="s3://bucket/key",
        expires="URL lifetime, e.g. 15m (the default), 1h, 900 (seconds)",
    )
    put.add_argument(
        "--size",
        type=size,
        help="sign the Content-Length: S3 then refuses a body of any other length",
    )

    multipart = _mode(
        modes,
        "multipart",
        help="create a multipart upload and presign its parts",
        description="Create a multipart upload and print its upload id and, with --size, "
        "every part's URL with its offset and length.",
        target="s3://bucket/key",
        expires="each part URL's lifetime, e.g. 1h (the default), 30m",
    )
    multipart.add_argument(
        "--size", type=size, help="the object's bytes: every part's URL, with its offset"
    )
    multipart.add_argument(
        "--part-size", type=part_size, help="default 16MiB, grown to fit 10,000 parts"
    )

    post = _mode(
        modes,
        "post",
        help="a browser form upload (POST policy)",
        description="Print a browser form's URL and fields (the signed policy among them): "
        "POST them, then the file, as multipart/form-data.",
        target="s3://bucket/key, or s3://bucket/prefix/ for any key under the prefix (the "
        "form's key field, ${filename} by default, names it)",
        expires="the form's lifetime, e.g. 15m (the default), 1h",
    )
    post.add_argument(
        "--max-size", type=size, metavar="SIZE", help="the largest file the form takes"
    )

    cors = command(
        sub,
        "cors",
        help="check a bucket's CORS rules for browser uploads",
        description="Read the bucket's CORS rules and say what a browser at --origin needs "
        "for an upload in --mode: the method, the origin, the headers, ExposeHeaders ETag. "
        "The rules are read as S3 reads them: the first rule that matches the origin, the "
        "method and every header sent allows the preflight; the first that matches the "
        "origin and the method answers the upload, and its ExposeHeaders are what the page "
        "may read.",
    )
    cors.add_argument("action", choices=("check",))
    cors.add_argument("target", type=s3_url, help="s3://bucket")
    cors.add_argument("--origin", required=True, help="the page's origin, e.g. https://app.example")
    cors.add_argument(
        "--mode",
        choices=_CORS_MODES,
        default="multipart",
        help="put: one PUT of a typed file; multipart (the default): a PUT per part, whose "
        "ETag the page reads; post: a form; uppy: what stock Uppy 6 sends, PUT parts for files "
        "over 100 MiB and POST forms for the others",
    )
    cors.add_argument(
        "--header",
        dest="headers",
        action="append",
        default=[],
        metavar="NAME",
        help="a header the page sends, signed in the URL (repeatable, or comma-separated): "
        "e.g. x-amz-checksum-crc32, x-amz-meta-owner; it must be in AllowedHeaders",
    )
    cors.add_argument(
        "--print-rules", action="store_true", help="print the CORS rules to apply (JSON)"
    )
    cors.add_argument("--json", action="store_true", help="one JSON document on stdout")
    where_options(cors)


def _shared_options(parser: argparse.ArgumentParser, expires: str) -> None:
    parser.add_argument("--expires", metavar="DURATION", help=expires)
    parser.add_argument("--content-type", help="the Content-Type the client must send")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    where_options(parser)


def _mode(
    modes: Any, name: str, *, help: str, description: str, target: str, expires: str
) -> argparse.ArgumentParser:
    parser = command(modes, name, help=help, description=description)
    parser.add_argument("target", type=s3_url, help=target)
    _shared_options(parser, expires)
    # Given after the mode, a shared option is set here; not given, it keeps what was given
    # before the mode, or the default (argparse copies every default of the mode's parser
    # over the namespace, so these have none).
    for action in parser._actions:
        if action.dest in (*_SHARED, *_LOGGING):
            action.default = argparse.SUPPRESS
    return parser


def _lifetime(text: str) -> int:
    """``--expires``: whole seconds, at least 1."""
    try:
        seconds = duration(text)
    except argparse.ArgumentTypeError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 1 or seconds != int(seconds):
        raise ValueError(
            f"--expires: expected a lifetime like 15m, 1h or 900 (whole seconds, at least 1), "
            f"got {text!r}"
        )
    return int(seconds)


def _header_names(values: list[str]) -> list[str]:
    """``--header``: names, as in Access-Control-Request-Headers."""
    names = [name.strip() for value in values for name in value.split(",")]
    for name in names:
        if not _TOKEN.fullmatch(name):
            raise ValueError(
                f"--header: expected a header name such as x-amz-checksum-crc32, got {name!r}"
            )
    return names


def _presigner(args: argparse.Namespace) -> Any:
    from .._api.presigner import Presigner

    return Presigner(session_of(args), endpoint_url=args.endpoint_url, region_name=args.region)


def run_presign(args: argparse.Namespace) -> int:
    bucket, key = args.target
    options: dict[str, Any] = {}
    if args.expires is not None:
        try:
            options["expires_in"] = _lifetime(args.expires)
        except ValueError as exc:
            return _usage(exc)
    try:
        with _presigner(args) as presigner:
            if args.mode == "put":
                result: Any = presigner.presign_put(
                    bucket, key, size=args.size, content_type=args.content_type, **options
                )
            elif args.mode == "multipart":
                result = presigner.create_multipart(
                    bucket,
                    key,
                    size=args.size,
                    part_size=args.part_size,
                    content_type=args.content_type,
                    **options,
                )
            else:
                prefix = key.endswith("/") or not key
                result = presigner.presign_post(
                    bucket,
                    None if prefix else key,
                    key_prefix=key if prefix else None,
                    content_type=args.content_type,
                    size_range=None if args.max_size is None else (0, args.max_size),
                    **options,
                )
    except UploadError as exc:
        return failed(exc)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(_describe(result))
    return EXIT_OK


def _describe(result: PresignedRequest | PresignedMultipart | PresignedPost) -> str:
    lines = []
    if isinstance(result, PresignedRequest):
        lines.append(f"{result.method} {result.url}")
        lines += [f"  header {name}: {value}" for name, value in result.headers.items()]
    elif isinstance(result, PresignedMultipart):
        lines.append(f"upload id {result.upload_id}, parts of {result.part_size} bytes")
        for part in result.parts:
            lines.append(
                f"part {part.part_number} (bytes {part.offset}+{part.length}): PUT {part.url}"
            )
        if not result.parts:
            lines.append("(give --size for every part's URL; else presign parts one by one)")
    else:
        lines.append(f"POST {result.url} (multipart/form-data: these fields, then the file)")
        lines += [f"  field {name}: {value}" for name, value in result.fields.items()]
    lines.append(f"expires at {result.expires_at:%Y-%m-%dT%H:%M:%SZ} (in {result.expires_in} s)")
    if result.clamped:
        lines.append(f"shorter than asked: {result.clamped}")
    return "\n".join(lines)


def _usage(exc: ValueError) -> int:
    print(f"resilient-s3: {exc}", file=sys.stderr)
    return EXIT_USAGE


def run_cors(args: argparse.Namespace) -> int:
    bucket, _ = args.target
    try:
        headers = _header_names(args.headers)
    except ValueError as exc:
        return _usage(exc)
    try:
        with _presigner(args) as presigner:
            report = presigner.check_cors(bucket, args.origin, args.mode, headers)
    except UploadError as exc:
        return failed(exc)
    if args.json:
        document = {
            "ok": report.ok,
            "origin": report.origin,
            "mode": report.mode,
            "headers": headers,
            "findings": [
                {"problem": f.problem, "fix": f.fix, "blocking": f.blocking}
                for f in report.findings
            ],
            "suggested_rules": report.suggested_rules,
        }
        print(json.dumps(document, indent=2))
    else:
        verdict = "ok" if report.ok else "browser uploads will fail"
        sending = f" sending {', '.join(headers)}" if headers else ""
        print(f"s3://{bucket} for {report.origin}, {report.mode} uploads{sending}: {verdict}")
        for finding in report.findings:
            mark = "x" if finding.blocking else "!"
            print(f"  {mark} {finding.problem}\n      fix: {finding.fix}")
        if args.print_rules:
            print(json.dumps({"CORSRules": report.suggested_rules}, indent=2))
    if not report.ok:
        print(
            f"resilient-s3: s3://{bucket} does not let {report.origin} upload ({report.mode})",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK
