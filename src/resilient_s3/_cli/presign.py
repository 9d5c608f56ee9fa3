"""``resilient-s3 presign``: URLs for clients without credentials, and what to do with the
multipart uploads created for them (complete, abort)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import sys
from typing import TYPE_CHECKING, Any

from .._exceptions import UploadError
from .._presigned import CompletedUpload, PresignedMultipart, PresignedPost, PresignedRequest
from .common import (
    ENVIRONMENT,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    INTERRUPTED,
    OUTPUT_CLOSED,
    SIZES,
    Statuses,
    command,
    duration,
    failed,
    part_size,
    presigner_of,
    s3_target,
    size,
    usage,
    where_options,
)

if TYPE_CHECKING:
    from .._api.presigner import Presigner

# Options every mode takes: accepted before the mode too (``presign --json put ...``), as
# they were when the mode was a positional argument.
_SHARED = ("expires", "content_type", "json", "endpoint_url", "region", "profile")
_LOGGING = ("log_level", "debug", "log_file")
_SIGNING = ("put", "multipart", "post")
"""The modes that sign: --expires and --content-type mean something only to them."""


_REFUSED = (
    "S3 refused a request or could not be reached, or the credentials could not be read; the "
    "error names its cause"
)


def _statuses(done: str, failed: str = _REFUSED) -> Statuses:
    return (
        (EXIT_OK, done),
        (EXIT_FAILED, failed),
        (
            EXIT_USAGE,
            "the command cannot run as given (a bucket or key name, an option, the endpoint, "
            "the profile): nothing was signed or sent",
        ),
        INTERRUPTED,
        OUTPUT_CLOSED,
    )


def add_parsers(sub: Any) -> None:
    presign = command(
        sub,
        "presign",
        help="presign an upload for a client without credentials",
        description="Print a presigned URL (or a multipart upload's part URLs, or a browser "
        "form's fields) and the exact headers the client must send. URLs never outlive the "
        "signing credentials, and are signed at the server's time. A multipart upload stays "
        "open until it is completed or aborted (presign complete, presign abort). Each mode "
        "takes its own options: `resilient-s3 presign MODE --help`.",
        statuses=_statuses(
            "the URL, the form or the upload was printed (complete: completed; abort: aborted)"
        ),
        notes=(SIZES, ENVIRONMENT),
    )
    _shared_options(presign, "URL lifetime: 15m (put, post), 1h (multipart parts)")
    modes = presign.add_subparsers(
        dest="mode", required=True, metavar="{put,multipart,post,complete,abort}"
    )

    put = _mode(
        modes,
        "put",
        help="a URL for one PUT of the whole object (up to 5 GiB)",
        description="Print a URL for one PUT of the whole object and the headers to send "
        "with it (all signed).",
        target="s3://bucket/key",
        expires="URL lifetime, e.g. 15m (the default), 1h, 900 (seconds)",
        done="the URL and the headers to send with it were printed",
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
        "every part's URL with its offset and length; then, on standard error (under 'next' "
        "with --json), how to send the parts, complete the upload or abort it. It stays open, "
        "its parts billed, until it is completed or aborted.",
        target="s3://bucket/key",
        expires="each part URL's lifetime, e.g. 1h (the default), 30m",
        done="the upload was created and its id (and part URLs) printed",
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
        done="the form's URL and fields were printed",
        form="s3://bucket/key or s3://bucket/prefix/",
    )
    post.add_argument(
        "--max-size", type=size, metavar="SIZE", help="the largest file the form takes"
    )

    complete = _mode(
        modes,
        "complete",
        help="complete a multipart upload with the parts S3 holds",
        description="Complete a multipart upload (from `presign multipart`) with every part "
        "S3 holds for it, read with ListParts: no ETag to collect. Refused, and nothing "
        "completed, when a part is missing from the numbers 1 to the last, or when the parts "
        "do not add up to --size.",
        target="s3://bucket/key",
        done="the upload was completed: the object exists",
        failed="a part is missing, or the parts do not add up to --size (nothing was "
        "completed); or " + _REFUSED,
    )
    complete.add_argument(
        "--size", type=size, help="the object's bytes: refuse unless the parts add up to them"
    )

    _mode(
        modes,
        "abort",
        help="abort a multipart upload (S3 deletes its parts)",
        description="Abort a multipart upload (from `presign multipart`): S3 deletes the parts "
        "it holds, and a client's later parts are refused. An upload that is gone already "
        "(completed or aborted) counts as aborted.",
        target="s3://bucket/key",
        done="the upload was aborted, or was gone already",
    )


def _shared_options(parser: argparse.ArgumentParser, expires: str | None) -> None:
    """The options every mode takes; ``--expires`` and ``--content-type`` for those that sign
    (``expires`` tells the default lifetime)."""
    if expires is not None:
        parser.add_argument("--expires", metavar="DURATION", help=expires)
        parser.add_argument("--content-type", help="the Content-Type the client must send")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    where_options(parser)


def _mode(
    modes: Any,
    name: str,
    *,
    help: str,
    description: str,
    target: str,
    done: str,
    expires: str | None = None,
    form: str = "s3://bucket/key",
    failed: str = _REFUSED,
) -> argparse.ArgumentParser:
    notes = (SIZES, ENVIRONMENT) if name != "abort" else (ENVIRONMENT,)
    statuses = _statuses(done, failed)
    parser = command(
        modes, name, help=help, description=description, statuses=statuses, notes=notes
    )
    parser.add_argument("target", type=s3_target(form), help=target)
    if name not in _SIGNING:
        parser.add_argument("--upload-id", required=True, help="the id `presign multipart` printed")
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


def run_presign(args: argparse.Namespace) -> int:
    bucket, key = args.target
    try:
        options = _signing_options(args)
    except ValueError as exc:
        return usage(exc)
    try:
        with presigner_of(args) as presigner:
            if args.mode == "complete":
                return _print_completed(_complete(presigner, bucket, key, args), args.json)
            if args.mode == "abort":
                presigner.abort_multipart(bucket, key, args.upload_id)
                return _print_aborted(bucket, key, args.upload_id, args.json)
            result = _sign(presigner, bucket, key, args, options)
    except UploadError as exc:
        return failed(exc, as_json=args.json)
    if args.json:
        document = result.to_json()
        if isinstance(result, PresignedMultipart):
            document["next"] = _next_steps(result)
        print(json.dumps(document, indent=2))
    else:
        print(_describe(result))
        if isinstance(result, PresignedMultipart):
            # On standard error: standard output stays what a script reads (the id, the URLs).
            print(_next_text(result), file=sys.stderr)
    return EXIT_OK


def _signing_options(args: argparse.Namespace) -> dict[str, Any]:
    """The presigner's options from --expires; refused for the modes that sign nothing."""
    if args.mode not in _SIGNING:
        given = [
            flag
            for flag, value in (("--expires", args.expires), ("--content-type", args.content_type))
            if value is not None
        ]
        if given:
            raise ValueError(f"{' and '.join(given)}: for put, multipart and post, not {args.mode}")
        return {}
    return {} if args.expires is None else {"expires_in": _lifetime(args.expires)}


def _sign(
    presigner: Presigner, bucket: str, key: str, args: argparse.Namespace, options: dict[str, Any]
) -> PresignedRequest | PresignedMultipart | PresignedPost:
    if args.mode == "put":
        return presigner.presign_put(
            bucket, key, size=args.size, content_type=args.content_type, **options
        )
    if args.mode == "multipart":
        return presigner.create_multipart(
            bucket,
            key,
            size=args.size,
            part_size=args.part_size,
            content_type=args.content_type,
            **options,
        )
    prefix = key.endswith("/") or not key
    return presigner.presign_post(
        bucket,
        None if prefix else key,
        key_prefix=key if prefix else None,
        content_type=args.content_type,
        size_range=None if args.max_size is None else (0, args.max_size),
        **options,
    )


def _next_steps(upload: PresignedMultipart) -> dict[str, str]:
    """What a multipart upload created for a client needs next: it stays open, its parts
    stored and billed, until it is completed or aborted."""
    target = shlex.quote(f"s3://{upload.bucket}/{upload.key}")
    upload_id = f"--upload-id {shlex.quote(upload.upload_id)}"
    folder = upload.key.rpartition("/")[0]
    below = shlex.quote(f"s3://{upload.bucket}/{folder}/" if folder else f"s3://{upload.bucket}")
    if upload.parts:
        send = (
            "PUT each part's bytes (its offset and length in the file) to its URL, e.g. "
            f"`split -b {upload.part_size} -d -a 5 FILE part-` then "
            "`curl -f -T part-00000 'URL of part 1'` (part 2 is part-00001, and so on); S3 "
            "answers each with the part's ETag"
        )
    else:
        send = (
            "presign each part's URL with Presigner.presign_part(bucket, key, upload_id, "
            "part_number) (with --size, this command prints them all), then PUT the part to it"
        )
    return {
        "upload_id": upload.upload_id,
        "send_parts": send,
        "complete": f"resilient-s3 presign complete {target} {upload_id}",
        "complete_api": (
            f"Presigner.complete_multipart({upload.bucket!r}, {upload.key!r}, "
            f"{upload.upload_id!r}, [(part_number, etag), ...])"
        ),
        "abort": f"resilient-s3 presign abort {target} {upload_id}",
        "cleanup": f"resilient-s3 cleanup {below} --older-than 24h",
    }


def _next_text(upload: PresignedMultipart) -> str:
    steps = _next_steps(upload)
    return "\n".join(
        [
            f"resilient-s3: multipart upload {upload.upload_id} is open: S3 keeps its parts, "
            "billed, until it is completed or aborted",
            f"  send the parts: {steps['send_parts']}",
            f"  then complete:  {steps['complete']}",
            f"                  (in Python: {steps['complete_api']})",
            f"  or abort:       {steps['abort']}",
            f"  left open:      {steps['cleanup']} aborts those open for a day",
        ]
    )


def _complete(
    presigner: Presigner, bucket: str, key: str, args: argparse.Namespace
) -> CompletedUpload:
    """Complete with the parts S3 holds, once they are every part: 1 to the last, adding up
    to --size when it is given (a part still on its way would be left out of the object)."""
    parts = sorted(presigner.list_parts(bucket, key, args.upload_id), key=lambda p: p.part_number)
    numbers = {part.part_number for part in parts}
    missing = [n for n in range(1, max(numbers, default=0) + 1) if n not in numbers]
    held = sum(part.size for part in parts)
    problem = None
    if not parts:
        problem = "S3 holds no part of it yet"
    elif missing:
        problem = f"parts missing: {_ranges(missing)} (S3 holds {_ranges(sorted(numbers))})"
    elif args.size is not None and held != args.size:
        problem = f"the parts S3 holds add up to {held:,} bytes, not --size {args.size:,}"
    if problem is not None:
        raise UploadError(
            f"not completed: {problem}; send the missing parts, or abort it (presign abort)",
            bucket=bucket,
            key=key,
            upload_id=args.upload_id,
        )
    listing = [(part.part_number, part.etag) for part in parts]
    completed = presigner.complete_multipart(bucket, key, args.upload_id, listing)
    return dataclasses.replace(completed, size=held)


def _ranges(numbers: list[int]) -> str:
    """Part numbers as a person reads them: 1-3, 5."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _print_completed(completed: CompletedUpload, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"status": "completed", **completed.to_json()}, indent=2))
    else:
        print(
            f"completed s3://{completed.bucket}/{completed.key} ({completed.size:,} bytes), "
            f"ETag {completed.etag}"
        )
    return EXIT_OK


def _print_aborted(bucket: str, key: str, upload_id: str, as_json: bool) -> int:
    if as_json:
        document = {"status": "aborted", "bucket": bucket, "key": key, "upload_id": upload_id}
        print(json.dumps(document, indent=2))
    else:
        print(
            f"aborted multipart upload {upload_id} of s3://{bucket}/{key} (if it was still "
            "open): S3 keeps none of its parts"
        )
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
