"""``resilient-s3 presign`` and ``resilient-s3 cors``: URLs for clients without credentials,
and whether a browser may use them."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .._exceptions import UploadError
from .._presigned import PresignedMultipart, PresignedPost, PresignedRequest
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    command,
    duration,
    failed,
    s3_url,
    session_of,
    size,
    where_options,
)


def add_parsers(sub: Any) -> None:
    presign = command(
        sub,
        "presign",
        help="presign an upload for a client without credentials",
        description="Print a presigned URL (or a multipart upload's part URLs, or a browser "
        "form's fields) and the exact headers the client must send. URLs never outlive the "
        "signing credentials, and are signed at the server's time.",
    )
    presign.add_argument("mode", choices=("put", "multipart", "post"))
    presign.add_argument(
        "target", type=s3_url, help="s3://bucket/key (post: a key, or a prefix ending in /)"
    )
    presign.add_argument(
        "--expires", type=duration, help="URL lifetime: 15m (put, post), 1h (multipart parts)"
    )
    presign.add_argument("--content-type", help="the Content-Type the client must send")
    presign.add_argument("--size", type=size, help="bytes (multipart: every part's URL)")
    presign.add_argument("--part-size", type=size, help="multipart: default 16MiB")
    presign.add_argument("--max-size", type=size, help="post: the largest file the form takes")
    presign.add_argument("--json", action="store_true", help="one JSON document on stdout")
    where_options(presign)

    cors = command(
        sub,
        "cors",
        help="check a bucket's CORS rules for browser uploads",
        description="Read the bucket's CORS rules and say what a browser at --origin needs "
        "for an upload in --mode: the method, the origin, the headers, ExposeHeaders ETag.",
    )
    cors.add_argument("action", choices=("check",))
    cors.add_argument("target", type=s3_url, help="s3://bucket")
    cors.add_argument("--origin", required=True, help="the page's origin, e.g. https://app.example")
    cors.add_argument("--mode", choices=("put", "multipart", "post"), default="multipart")
    cors.add_argument(
        "--print-rules", action="store_true", help="print the CORS rules to apply (JSON)"
    )
    cors.add_argument("--json", action="store_true", help="one JSON document on stdout")
    where_options(cors)


def _presigner(args: argparse.Namespace) -> Any:
    from .._api.presigner import Presigner

    return Presigner(session_of(args), endpoint_url=args.endpoint_url, region_name=args.region)


def run_presign(args: argparse.Namespace) -> int:
    bucket, key = args.target
    options: dict[str, Any] = {}
    if args.expires is not None:
        options["expires_in"] = int(args.expires)
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
                    size_range=(0, args.max_size) if args.max_size else None,
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


def run_cors(args: argparse.Namespace) -> int:
    bucket, _ = args.target
    try:
        with _presigner(args) as presigner:
            report = presigner.check_cors(bucket, args.origin, args.mode)
    except UploadError as exc:
        return failed(exc)
    if args.json:
        document = {
            "ok": report.ok,
            "origin": report.origin,
            "mode": report.mode,
            "findings": [
                {"problem": f.problem, "fix": f.fix, "blocking": f.blocking}
                for f in report.findings
            ],
            "suggested_rules": report.suggested_rules,
        }
        print(json.dumps(document, indent=2))
    else:
        verdict = "ok" if report.ok else "browser uploads will fail"
        print(f"s3://{bucket} for {report.origin}, {report.mode} uploads: {verdict}")
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
