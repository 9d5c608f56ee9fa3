"""What a presigner refuses before it signs or sends anything, and how long a URL may live.

A presigned URL is used later, by someone else, where no error comes back to the server that
signed it: whatever could never work is refused here, saying why, before any request. The
bucket rule is the uploaders' (``_limits``); the rules added here are a URL's (a path that a
browser or curl would rewrite), a signature's (a checksum that is its algorithm's digest, a
form policy a form can meet, a part list S3 would take) and a lifetime's (never past the
signing credentials, nor AWS's 7 days).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._diagnostics.codes import CODES
from .._exceptions import CredentialRefreshError, InvalidUploadError
from .._headers import check_extra_args, check_header_value
from .._limits import MAX_PART_SIZE, MAX_PARTS, validate_key, validate_request_bucket
from .._upload.checksums import CHECKSUM_KINDS, ChecksumKind

logger = logging.getLogger("resilient_s3")

MAX_EXPIRES = 604_800
"""AWS refuses presigned URLs signed for longer than 7 days."""
USEFUL_LIFETIME = 60
"""Seconds under which a URL cut short by its credentials earns a warning (so does one cut to
less than a tenth of what was asked)."""

Parts = Sequence[tuple[int, str] | tuple[int, str, str | None]]
"""(part number, ETag[, checksum]) of every part of an upload to complete."""


def check_target(bucket: str, key: str | None, *, legacy: bool) -> None:
    """The bucket by the uploaders' rule (``legacy``: AWS's own endpoint, where buckets named
    before March 2018 exist), the key (if any) by S3's and a URL path's."""
    validate_request_bucket(bucket, legacy=legacy)
    if key is None:
        return
    try:
        validate_key(key)
        _check_url_path(key)
    except InvalidUploadError as exc:
        exc.bucket, exc.key = bucket, key
        raise


def _check_url_path(key: str) -> None:
    # The uploaders send such keys themselves and S3 stores them as written; a URL handed to
    # a browser or curl has its dot segments resolved first (RFC 3986, 5.2.4).
    for segment in key.split("/"):
        if segment in (".", ".."):
            raise InvalidUploadError(
                f"object key {key[:60]!r} has a {segment!r} path segment: browsers and curl "
                "resolve '.' and '..' in a URL's path before sending it, so a URL for this key "
                "would reach another key and never work; choose a key without them"
            )


def checksum_kind(algorithm: str) -> ChecksumKind:
    kind = CHECKSUM_KINDS.get(algorithm.upper())
    if kind is None:
        raise InvalidUploadError(
            f"checksum algorithm must be one of {', '.join(CHECKSUM_KINDS)}, not {algorithm!r}"
        )
    return kind


def check_checksum(checksum: tuple[str, str] | None) -> None:
    """A checksum to sign into a URL: S3 would refuse every body against any other value."""
    if checksum is None:
        return
    algorithm, value = checksum
    kind = checksum_kind(algorithm)
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError):
        digest = b""
    if len(digest) != kind.width:
        raise InvalidUploadError(
            f"a {kind.algorithm} checksum must be the base64 of its {kind.width}-byte digest "
            f"(e.g. {base64.b64encode(bytes(kind.width)).decode()!r}), not {value!r}"
        )


def check_part(part_number: int, size: int | None) -> None:
    if not 1 <= part_number <= MAX_PARTS:
        raise InvalidUploadError(f"part numbers are 1 to 10,000, not {part_number}")
    if size is not None and not 0 <= size <= MAX_PART_SIZE:
        raise InvalidUploadError(f"a part's size must be 0 to 5 GiB, not {size}")


def check_post(
    key: str | None,
    key_prefix: str | None,
    content_type: str | None,
    content_type_prefix: str | None,
    size_range: tuple[int, int] | None,
) -> None:
    """A form policy that a form can meet: one rule per field, a size range that holds
    sizes."""
    if key is None and key_prefix is None:
        raise InvalidUploadError("presign_post needs either key or key_prefix")
    if key is not None and key_prefix is not None:
        raise InvalidUploadError(
            "presign_post takes key or key_prefix, not both: key names the one object, "
            "key_prefix lets the form name any key below it"
        )
    if content_type is not None and content_type_prefix is not None:
        raise InvalidUploadError(
            "presign_post takes content_type or content_type_prefix, not both: the form's "
            "Content-Type field is either that type or any type starting with the prefix"
        )
    if content_type_prefix is not None:
        check_header_value(content_type_prefix, "content_type_prefix")
    if size_range is not None:
        low, high = size_range
        whole = all(isinstance(n, int) and not isinstance(n, bool) for n in size_range)
        if not whole or not 0 <= low <= high:
            raise InvalidUploadError(
                f"size_range must be (low, high) with 0 <= low <= high bytes, not {size_range!r}"
            )


def object_args(
    content_type: str | None, extra_args: Mapping[str, Any] | None
) -> Mapping[str, Any]:
    """The object's arguments, their header values checked: a CR/LF would smuggle a request
    onto the connection (create_multipart) or into the client's signed headers."""
    args = dict(extra_args or {})
    check_extra_args(args)
    if content_type is not None:
        check_header_value(content_type, "content_type")
        args["ContentType"] = content_type
    return args


def completed_listing(parts: Parts, checksum: tuple[str, str] | None) -> list[dict[str, Any]]:
    """CompleteMultipartUpload's part list, in order; S3 refuses an empty one, a part named
    twice and numbers outside 1..10,000, so they are refused before it is sent."""
    if not parts:
        raise InvalidUploadError("complete_multipart was given no parts: S3 needs at least one")
    listing: list[dict[str, Any]] = []
    for number, etag, *rest in sorted(parts):
        if not 1 <= number <= MAX_PARTS:
            raise InvalidUploadError(f"part numbers are 1 to 10,000, not {number}")
        if listing and listing[-1]["PartNumber"] == number:
            raise InvalidUploadError(f"complete_multipart was given part {number} twice")
        entry: dict[str, Any] = {"PartNumber": int(number), "ETag": _quoted(etag)}
        if rest and rest[0] and checksum is not None:
            entry[checksum_kind(checksum[0]).param] = rest[0]
        listing.append(entry)
    return listing


def _quoted(etag: str) -> str:
    """ETags as S3 lists them: Uppy 6 strips the quotes, earlier majors keep them."""
    return etag if etag.startswith('"') else f'"{etag}"'


# -- lifetimes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lifetime:
    """How long a URL signed now lives: ``seconds``, until ``expires_at`` (UTC, the server's
    time), and why it is shorter than asked (``clamped``), if it is."""

    seconds: int
    expires_at: datetime.datetime
    clamped: str | None


def url_lifetime(asked: int, credentials_expire: float | None, now: datetime.datetime) -> Lifetime:
    """The lifetime of a URL asked to live ``asked`` seconds, signed at ``now`` (aware, the
    server's time) with credentials that expire at ``credentials_expire`` (epoch seconds, or
    None). Credentials that expired already raise :class:`CredentialRefreshError`: S3 would
    refuse every URL signed with them."""
    if isinstance(asked, bool) or not isinstance(asked, int) or asked < 1:
        raise InvalidUploadError(
            f"expires_in must be a whole number of seconds >= 1, not {asked!r}"
        )
    seconds, clamped = asked, None
    if seconds > MAX_EXPIRES:
        seconds = MAX_EXPIRES
        clamped = f"AWS accepts presigned URLs of at most 7 days ({MAX_EXPIRES:,} s)"
    if credentials_expire is not None:
        left = credentials_expire - now.timestamp()
        when = datetime.datetime.fromtimestamp(credentials_expire, datetime.UTC)
        if left < 1:
            raise _expired(when, left)
        if left < seconds:
            seconds = int(left)
            clamped = (
                f"the signing credentials expire at {when:%Y-%m-%dT%H:%M:%SZ} (in {seconds} s): "
                "a URL dies with them"
            )
            if seconds < USEFUL_LIFETIME or seconds < asked / 10:
                logger.warning(
                    "the signing credentials expire at %s: this URL lives %d s, not the %d s "
                    "asked; sign with credentials that last longer than the URLs (a role "
                    "session of an hour or more)",
                    f"{when:%Y-%m-%dT%H:%M:%SZ}",
                    seconds,
                    asked,
                )
    return Lifetime(seconds, now + datetime.timedelta(seconds=seconds), clamped)


def _expired(when: datetime.datetime, left: float) -> CredentialRefreshError:
    shown = f"{when:%Y-%m-%dT%H:%M:%SZ}"
    state = f"expired at {shown} ({-left:.0f} s ago)" if left <= 0 else f"expire at {shown}"
    return CredentialRefreshError(
        f"the signing credentials {state} and their provider gave no fresher ones: S3 "
        "refuses every URL signed with them, so none was signed",
        diagnosis=CODES["ExpiredToken"].diagnosis(
            f"the signing credentials expire at {shown}",
            summary="the credentials the presigner signs with have expired",
        ),
    )
