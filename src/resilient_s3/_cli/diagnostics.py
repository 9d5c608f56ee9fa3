"""``resilient-s3 explain`` and ``resilient-s3 doctor``: why a request failed, and whether a
setup works."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .._diagnostics.explain import explain, render
from .._exceptions import UploadError
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
    s3_target,
    session_of,
    where_options,
)


def add_parsers(sub: Any) -> None:
    explainer = command(
        sub,
        "explain",
        help="explain an S3 error or a presigned URL",
        description="Name the cause of an S3 error, with its evidence and the fixes to try: "
        "give an XML error body, a raw HTTP answer, a botocore message ('An error occurred "
        "(AccessDenied) when calling ...'), a presigned URL (when and how it was signed, "
        "whether it has expired), or an error and its URL; '-' reads standard input. Nothing "
        "is sent anywhere.",
        statuses=(
            (EXIT_OK, "explained: the text was read as an error, an answer or a URL"),
            (EXIT_USAGE, "the text is none of those (or there was none): nothing to explain"),
            INTERRUPTED,
            OUTPUT_CLOSED,
        ),
        notes=(),
    )
    explainer.add_argument("text", nargs="*", help="the error or URL; '-' or nothing: stdin")
    explainer.add_argument("--json", action="store_true", help="one JSON document on stdout")

    checker = command(
        sub,
        "doctor",
        help="check live that uploads to a bucket can work",
        description="Check, against the live endpoint, what an upload needs: credentials (and "
        "that S3 accepts them) and their expiry, the clock, the bucket and its region, writing "
        "and deleting an object and a multipart upload under the prefix, a presigned PUT, CORS "
        "for --origin, and default encryption / KMS. A check that would only meet a problem "
        "already found (credentials S3 refuses, a missing bucket, an endpoint that cannot be "
        "reached) is skipped. Leaves nothing behind.",
        statuses=(
            (EXIT_OK, "every check passed (warnings allowed)"),
            (EXIT_FAILED, "a check found a problem: the report names it, its evidence and fix"),
            (
                EXIT_USAGE,
                "doctor cannot run as given (the target, --origin, an option, the endpoint, "
                "the profile): nothing was sent",
            ),
            INTERRUPTED,
            OUTPUT_CLOSED,
        ),
        notes=(ENVIRONMENT,),
    )
    checker.add_argument(
        "target",
        type=s3_target("s3://bucket[/prefix]", bucket_alone=True),
        help="s3://bucket[/prefix], or a bucket name",
    )
    checker.add_argument(
        "--origin", type=origin, help="check CORS for browser uploads from this origin"
    )
    checker.add_argument("--mode", choices=CORS_MODES, default="multipart", help="for --origin")
    checker.add_argument("--json", action="store_true", help="one JSON document on stdout")
    where_options(checker)


def run_explain(args: argparse.Namespace) -> int:
    text = " ".join(args.text)
    if not text or text == "-":
        text = sys.stdin.read()
    explanation = explain(text)
    if args.json:
        print(json.dumps(explanation.to_dict(), indent=2))
    else:
        print(render(explanation))
    return EXIT_USAGE if explanation.read_as == "unreadable" else EXIT_OK


def run_doctor(args: argparse.Namespace) -> int:
    from .._api.doctor import doctor

    bucket, prefix = args.target
    try:
        report = doctor(
            bucket,
            prefix,
            session=session_of(args),
            endpoint_url=args.endpoint_url,
            region_name=args.region,
            origin=args.origin,
            cors_mode=args.mode,
        )
    except UploadError as exc:
        return failed(exc, as_json=args.json)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report)
    return EXIT_OK if report.ok else EXIT_FAILED
