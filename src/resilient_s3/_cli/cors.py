"""``resilient-s3 cors check``: whether a bucket's CORS rules let a browser at an origin
upload, and the rules to apply when they do not."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .._exceptions import InvalidUploadError, UploadError
from .._headers import check_header_name
from .common import (
    CORS_MODES,
    ENVIRONMENT,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    INTERRUPTED,
    OUTPUT_CLOSED,
    command,
    failed,
    origin,
    presigner_of,
    s3_target,
    usage,
    where_options,
)


def add_parser(sub: Any) -> None:
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
        statuses=(
            (EXIT_OK, "a browser at the origin can upload (what it can do without: listed, !)"),
            (
                EXIT_FAILED,
                "something would stop it (listed, x), or S3 refused to give the rules; the "
                "error names its cause",
            ),
            (
                EXIT_USAGE,
                "the command cannot run as given (the origin, a header name, an option, the "
                "bucket name, the endpoint): nothing was sent",
            ),
            INTERRUPTED,
            OUTPUT_CLOSED,
        ),
        notes=(ENVIRONMENT,),
    )
    cors.add_argument("action", choices=("check",))
    cors.add_argument(
        "target",
        type=s3_target("s3://bucket", bucket_alone=True),
        help="s3://bucket, or a bucket name",
    )
    cors.add_argument(
        "--origin",
        required=True,
        type=origin,
        help="the page's origin, scheme://host[:port]: e.g. https://app.example",
    )
    cors.add_argument(
        "--mode",
        choices=CORS_MODES,
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


def _header_names(values: list[str]) -> list[str]:
    """``--header``: names, as in Access-Control-Request-Headers."""
    names = [name.strip() for value in values for name in value.split(",")]
    for name in names:
        try:
            check_header_name(name, "--header")
        except InvalidUploadError:
            raise ValueError(
                f"--header: expected a header name such as x-amz-checksum-crc32, got {name!r}"
            ) from None
    return names


def run(args: argparse.Namespace) -> int:
    bucket, _ = args.target
    try:
        headers = _header_names(args.headers)
    except ValueError as exc:
        return usage(exc)
    try:
        with presigner_of(args) as presigner:
            report = presigner.check_cors(bucket, args.origin, args.mode, headers)
    except UploadError as exc:
        return failed(exc, as_json=args.json)
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
