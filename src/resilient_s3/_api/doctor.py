"""``doctor``: check a setup live, one finding per check, each with its evidence and fix.

What an upload needs, tried for real under the given bucket and prefix: credentials (where
from, until when, and whether S3 accepts them), a clock the server agrees with, the bucket and
its region, writing an object and deleting it, a multipart upload created, listed and aborted,
a presigned PUT sent with no credentials, CORS for browser uploads from an origin, and the
bucket's encryption (whether KMS is required, and so needs KMS permissions). A problem is
reported once: the checks that would only meet it again (credentials S3 refuses, a missing
bucket, an endpoint that cannot be reached) are skipped, saying why. It leaves nothing behind:
the test object is deleted and the multipart upload aborted, and when that is refused it says
what is left where.

Over 500 lines because it holds one short method per check, each with its own wording.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from .._auth.sigv4 import Clock, utc_now
from .._config import UploadConfig
from .._diagnostics.cors import UploadMode, check_cors_rules
from .._diagnostics.model import Cause, Diagnosis
from .._diagnostics.report import DoctorCheck, DoctorReport, Status
from .._diagnostics.request import SentRequest
from .._diagnostics.words import human_seconds
from .._exceptions import InvalidUploadError, S3RequestError, UploadError
from .._limits import validate_request_bucket
from .._redact import mask_key
from .._s3.errors import Where, http_error
from .._s3.session import _is_aws as is_aws_endpoint
from .._types import BotocoreConfigLike, CredentialsCallable, SessionLike
from .portal import LoopThread
from .presigner import AsyncPresigner
from .uploader import AsyncResilientUploader

CLOCK_WARNING = 60
"""Seconds of clock offset that deserve a warning: other tools sign with this clock."""
CLOCK_PROBLEM = 15 * 60
"""S3 refuses requests dated further than this from its clock (boto3 and the AWS CLI fail)."""
SHORT_LIVED = 15 * 60
"""Credentials expiring sooner than this, with no way to refresh them, deserve a warning."""
_PROBE = b"resilient-s3 doctor probe\n"
_REFUSED_CREDENTIALS = frozenset(
    {
        Cause.SIGNATURE_MISMATCH,
        Cause.INVALID_ACCESS_KEY,
        Cause.INVALID_TOKEN,
        Cause.CREDENTIALS_EXPIRED,
    }
)
"""Causes by which S3 refuses the credentials themselves, whatever the request."""
_RULES_SHOWN = 10
_DOCTOR_CONFIG = UploadConfig(max_attempts=3)
"""Few attempts: a check reports what it meets rather than waiting it out."""


def doctor(
    target: str,
    prefix: str = "",
    *,
    session: SessionLike | None = None,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    credentials: CredentialsCallable | None = None,
    botocore_config: BotocoreConfigLike | None = None,
    verify: bool | str | None = None,
    origin: str | None = None,
    cors_mode: UploadMode = "multipart",
) -> DoctorReport:
    """Check, live, that uploads to ``target`` (``"s3://bucket/prefix/"``, or a bucket name
    with ``prefix``) can work, and say what is wrong and how to fix it. ``origin`` adds a
    check of the bucket's CORS rules for browser uploads from that origin, in ``cors_mode``.
    The session arguments are the uploaders'. See :class:`DoctorReport`."""
    loop = LoopThread("resilient-s3-doctor")
    try:
        return loop.portal.call(
            lambda: async_doctor(
                target,
                prefix,
                session=session,
                endpoint_url=endpoint_url,
                region_name=region_name,
                credentials=credentials,
                botocore_config=botocore_config,
                verify=verify,
                origin=origin,
                cors_mode=cors_mode,
            )
        )
    finally:
        loop.stop()


async def async_doctor(
    target: str,
    prefix: str = "",
    *,
    session: SessionLike | None = None,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    credentials: CredentialsCallable | None = None,
    botocore_config: BotocoreConfigLike | None = None,
    verify: bool | str | None = None,
    origin: str | None = None,
    cors_mode: UploadMode = "multipart",
    _clock: Clock = utc_now,
) -> DoctorReport:
    """The async form of :func:`doctor`."""
    bucket, prefix = _split(target, prefix)
    validate_request_bucket(bucket, legacy=endpoint_url is None)
    # Both facades open the same session the same way: the presigner for control calls, the
    # presigned PUT and CORS, the uploader for the probe object (the real upload path).
    where: dict[str, Any] = {
        "session": session,
        "endpoint_url": endpoint_url,
        "region_name": region_name,
        "config": _DOCTOR_CONFIG,
        "credentials": credentials,
        "botocore_config": botocore_config,
        "verify": verify,
        "_clock": _clock,
    }
    presigner = AsyncPresigner(**where)
    uploader = AsyncResilientUploader(**where)
    shown = f"s3://{bucket}/{prefix}"
    try:
        try:
            connection = await presigner._ensure_open()
        except UploadError as exc:
            diagnosis = exc.diagnosis
            check = (
                _failed("session", Status.PROBLEM, "opening the session", diagnosis)
                if diagnosis is not None
                else DoctorCheck("session", Status.PROBLEM, str(exc))
            )
            return DoctorReport(shown, endpoint_url or "aws", (check,))
        if endpoint_url is None and not is_aws_endpoint(connection.transport.endpoint_url):
            # An endpoint from AWS_ENDPOINT_URL or a profile: no bucket of AWS's legacy names
            # there, as for one given (the presigner's rule).
            validate_request_bucket(bucket, legacy=False)
        checkup = _Checkup(presigner, uploader, bucket, prefix, _clock)
        checks = [await checkup.credentials(), checkup.clock()]
        for name, run in checkup.live_checks(origin, cors_mode):
            blocked = _blocked_by(checks)
            checks.append(DoctorCheck(name, Status.SKIPPED, blocked) if blocked else await run())
    finally:
        await uploader.aclose()
        await presigner.aclose()
    return DoctorReport(shown, connection.transport.endpoint_url, tuple(checks))


def _split(target: str, prefix: str) -> tuple[str, str]:
    if target.startswith("s3://"):
        bucket, _, in_target = target[5:].partition("/")
        if in_target and prefix:
            raise InvalidUploadError("give the prefix in the s3:// URL or as prefix=, not both")
        prefix = in_target or prefix
    else:
        bucket = target
    if not bucket:
        raise InvalidUploadError(f"no bucket in {target!r}: give s3://bucket[/prefix]")
    return bucket, prefix


def _blocked_by(checks: Sequence[DoctorCheck]) -> str | None:
    """Why the checks still to run would only meet again a problem already reported: S3
    refuses the credentials, the endpoint cannot be reached, or the bucket does not exist."""
    for check in checks:
        if check.status is not Status.PROBLEM or check.diagnosis is None:
            continue
        cause = check.diagnosis.cause
        if cause == Cause.NETWORK:
            return f"not run: the endpoint cannot be reached (see {check.name})"
        if check.name == "credentials":
            return "not run: S3 does not accept the credentials (see credentials)"
        if check.name == "bucket" and cause == Cause.NO_SUCH_BUCKET:
            return "not run: the bucket does not exist (see bucket)"
    return None


def _failed(name: str, status: Status, doing: str, diagnosis: Diagnosis) -> DoctorCheck:
    """:meth:`DoctorCheck.failed`, without the fixes that say to run doctor: this is it."""
    check = DoctorCheck.failed(name, status, doing, diagnosis)
    return dataclasses.replace(check, fixes=_within_doctor(check.fixes))


def _within_doctor(fixes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(fix for fix in fixes if "resilient-s3 doctor" not in fix)


class _Checkup:
    def __init__(
        self,
        presigner: AsyncPresigner,
        uploader: AsyncResilientUploader,
        bucket: str,
        prefix: str,
        local_clock: Clock,
    ) -> None:
        self.presigner = presigner
        self.uploader = uploader
        self.bucket = bucket
        self.prefix = prefix
        self.local_clock = local_clock
        self.probe_key = f"{prefix}.resilient-s3-doctor-{uuid.uuid4().hex[:12]}"
        self.wrote = False
        self.bucket_region: str | None = None
        """The region HeadBucket named (``x-amz-bucket-region``), if it did."""

    def live_checks(
        self, origin: str | None, mode: UploadMode
    ) -> tuple[tuple[str, Callable[[], Awaitable[DoctorCheck]]], ...]:
        """The checks that send requests about the bucket, in order, by name."""
        return (
            ("bucket", self.bucket_exists),
            ("region", self.region),
            ("write", self.write),
            ("multipart", self.multipart),
            ("presigned-put", self.presigned_put),
            ("cors", lambda: self.cors(origin, mode)),
            ("encryption", self.encryption),
        )

    async def _call(self, operation: str, key: str = "", **params: Any) -> dict[str, Any]:
        where = Where(self.bucket, key, params.get("UploadId"))
        return await self.presigner._control(
            operation, where, retry={"max_attempts": 2}, Bucket=self.bucket, **params
        )

    async def credentials(self) -> DoctorCheck:
        owner = (await self.presigner._ensure_open()).owner
        credentials, _ = await owner.get()
        key = mask_key(credentials.access_key)
        temporary = "temporary (with a session token)" if credentials.token else "long-term"
        evidence = [f"source: {owner.source}", f"access key: {key}, {temporary}"]
        refused, accepted = await self._signed_request()
        if refused is not None:
            return DoctorCheck(
                "credentials",
                Status.PROBLEM,
                f"S3 does not accept them: {refused.cause}: {refused.summary}",
                (*evidence, *refused.evidence),
                _within_doctor(refused.fixes),
                refused,
            )
        evidence.append(accepted)
        expires = owner.expires_at
        if expires is None:
            return DoctorCheck(
                "credentials",
                Status.OK,
                f"{owner.source}, access key {key}, which does not expire",
                tuple(evidence),
            )
        left = expires - (time.time() + self.presigner.clock_offset)
        moment = datetime.datetime.fromtimestamp(expires, datetime.UTC)
        evidence.append(f"they expire at {moment:%Y-%m-%d %H:%M:%S} UTC, in {human_seconds(left)}")
        if owner.can_refresh:
            return DoctorCheck(
                "credentials",
                Status.OK,
                f"{owner.source}, access key {key}, refreshed ahead of expiry "
                f"(next in {human_seconds(left)})",
                tuple(evidence),
            )
        if left < SHORT_LIVED:
            return DoctorCheck(
                "credentials",
                Status.WARNING,
                f"the credentials expire in {human_seconds(left)} and cannot be refreshed",
                tuple(evidence),
                (
                    "use a provider that refreshes them (a profile with a role, SSO, a "
                    "credentials= callable): uploads and presigned URLs end with them",
                ),
            )
        return DoctorCheck(
            "credentials",
            Status.OK,
            f"{owner.source}, access key {key}, valid {human_seconds(left)} more",
            tuple(evidence),
        )

    async def _signed_request(self) -> tuple[Diagnosis | None, str]:
        """The first signed request: S3's refusal of the credentials, if it refuses them, else
        what its answer shows. ListBuckets names no bucket, and its answer carries S3's reason
        (a HEAD's cannot): any other answer, AccessDenied included, accepted the signature."""
        try:
            await self.presigner._control(
                "ListBuckets", Where("", ""), retry={"max_attempts": 2}, MaxBuckets=1
            )
        except S3RequestError as exc:
            diagnosis = exc.diagnosis
            if diagnosis is not None and diagnosis.cause in _REFUSED_CREDENTIALS:
                return diagnosis, ""
            if diagnosis is None or diagnosis.cause in (Cause.NETWORK, Cause.SERVER_ERROR):
                return None, f"not confirmed by S3: ListBuckets failed ({exc.code or exc.message})"
            return None, f"S3 accepted their signature (ListBuckets: {exc.code})"
        return None, "S3 accepted them (ListBuckets)"

    def clock(self) -> DoctorCheck:
        if not self.presigner.server_clock_read:
            return DoctorCheck("clock", Status.SKIPPED, "the server sent no Date to compare with")
        offset = self.presigner.clock_offset
        direction = "behind" if offset > 0 else "ahead of"
        off = f"this machine's clock is {human_seconds(offset)} {direction} the server's"
        local = self.local_clock()
        server = local + datetime.timedelta(seconds=offset)
        evidence = (
            f"the server's clock (its Date header): {server:%Y-%m-%d %H:%M:%S} UTC; this "
            f"machine's: {local:%Y-%m-%d %H:%M:%S} UTC",
        )
        fix = "synchronise this machine's clock (timedatectl set-ntp true, chrony, ntpd)"
        if abs(offset) >= CLOCK_PROBLEM:
            return DoctorCheck(
                "clock",
                Status.PROBLEM,
                f"{off}: S3 refuses requests signed with it (RequestTimeTooSkewed) from boto3, "
                "the AWS CLI and presigned URLs made here by other tools; resilient-s3 corrects "
                "for it",
                evidence,
                (fix,),
            )
        if abs(offset) >= CLOCK_WARNING:
            return DoctorCheck(
                "clock", Status.WARNING, off, evidence, (fix + "; S3 allows 15 minutes",)
            )
        return DoctorCheck("clock", Status.OK, f"within {human_seconds(offset)} of the server's")

    async def bucket_exists(self) -> DoctorCheck:
        try:
            head = await self._call("HeadBucket")
        except S3RequestError as exc:
            diagnosis = exc.diagnosis
            if diagnosis is None:
                return DoctorCheck("bucket", Status.PROBLEM, exc.message)
            if diagnosis.cause == "permission-denied":
                doing = "HeadBucket (s3:ListBucket) refused; uploads do not need it"
                return _failed("bucket", Status.WARNING, doing, diagnosis)
            return _failed("bucket", Status.PROBLEM, "HeadBucket failed", diagnosis)
        self.bucket_region = head.get("BucketRegion")
        return DoctorCheck("bucket", Status.OK, f"{self.bucket} exists and answers")

    async def region(self) -> DoctorCheck:
        configured = (await self.presigner._ensure_open()).transport.region
        if self.bucket_region is None:
            return await self._region_from_location(configured)
        return self._region(self.bucket_region, configured, "x-amz-bucket-region")

    async def _region_from_location(self, configured: str) -> DoctorCheck:
        try:
            location = await self._call("GetBucketLocation")
        except S3RequestError as exc:
            return DoctorCheck(
                "region", Status.SKIPPED, f"the bucket's region cannot be read ({exc.code})"
            )
        region = location.get("LocationConstraint") or "us-east-1"
        return self._region(region, configured, "GetBucketLocation")

    def _region(self, region: str, configured: str, source: str) -> DoctorCheck:
        evidence = (f"the bucket's region ({source}): {region}", f"configured: {configured}")
        if region == configured:
            return DoctorCheck("region", Status.OK, f"{region}, as configured", evidence)
        return DoctorCheck(
            "region",
            Status.PROBLEM,
            f"the bucket is in {region}, but requests are signed for {configured}",
            evidence,
            (f"use region_name={region!r} (AWS_REGION={region}, --region {region})",),
        )

    async def write(self) -> DoctorCheck:
        """An object written the way uploads write it (checksums and all), then deleted."""
        key = self.probe_key
        try:
            await self.uploader.upload_fileobj(io.BytesIO(_PROBE), self.bucket, key)
        except UploadError as exc:
            return self._refused("write", "PutObject", exc)
        self.wrote = True
        evidence = [f"PutObject s3://{self.bucket}/{key}: ok"]
        try:
            await self._call("DeleteObject", key, Key=key)
        except S3RequestError as exc:
            return DoctorCheck(
                "write",
                Status.WARNING,
                f"PutObject works; DeleteObject was refused, so s3://{self.bucket}/{key} is "
                "left behind",
                (*evidence, *self._lines(exc)),
                (f"delete s3://{self.bucket}/{key} with credentials that may",),
                exc.diagnosis,
            )
        evidence.append("DeleteObject: ok")
        place = self.prefix or "the bucket root"
        return DoctorCheck(
            "write", Status.OK, f"PutObject and DeleteObject under {place}", tuple(evidence)
        )

    async def multipart(self) -> DoctorCheck:
        key = self.probe_key + "-multipart"
        try:
            created = await self._call("CreateMultipartUpload", key, Key=key)
        except S3RequestError as exc:
            return self._refused("multipart", "CreateMultipartUpload", exc)
        upload_id = created["UploadId"]
        evidence = ["CreateMultipartUpload: ok"]
        listing: S3RequestError | None = None
        try:
            await self._call("ListParts", key, Key=key, UploadId=upload_id)
            evidence.append("ListParts: ok")
        except S3RequestError as exc:
            listing = exc
        try:
            await self._call("AbortMultipartUpload", key, Key=key, UploadId=upload_id)
            evidence.append("AbortMultipartUpload: ok")
        except S3RequestError as exc:
            return DoctorCheck(
                "multipart",
                Status.PROBLEM,
                "AbortMultipartUpload was refused: failed uploads would leave their parts, "
                f"billed, until a lifecycle rule removes them (upload id {upload_id} is left)",
                (*evidence, *self._lines(exc)),
                (
                    "allow s3:AbortMultipartUpload, and add a lifecycle rule "
                    "AbortIncompleteMultipartUpload (see docs/presigned.md)",
                ),
                exc.diagnosis,
            )
        if listing is not None:
            return DoctorCheck(
                "multipart",
                Status.WARNING,
                "ListParts (s3:ListMultipartUploadParts) was refused: a crashed upload "
                "cannot resume, it starts over",
                (*evidence, *self._lines(listing)),
                ("allow s3:ListMultipartUploadParts to resume uploads",),
                listing.diagnosis,
            )
        return DoctorCheck(
            "multipart",
            Status.OK,
            "create, list parts and abort a multipart upload",
            tuple(evidence),
        )

    async def presigned_put(self) -> DoctorCheck:
        key = self.probe_key + "-presigned"
        try:
            request = await self.presigner.presign_put(self.bucket, key, expires_in=300)
        except UploadError as exc:
            return DoctorCheck("presigned-put", Status.PROBLEM, f"presigning failed: {exc.message}")
        transport = (await self.presigner._ensure_open()).transport
        headers = {**request.headers, "Content-Length": str(len(_PROBE))}
        where = Where(self.bucket, key)
        try:
            answer = await transport.sender.exchange(
                "PUT", request.url, headers, _PROBE, None, where, "PutObject"
            )
        except S3RequestError as exc:
            return self._refused("presigned-put", "the presigned PUT", exc)
        if answer.status != 200:
            sent = SentRequest.read("PUT", request.url, headers, request.headers)
            refused = http_error(
                answer.status, answer.body, answer.headers, where, "PutObject", sent
            )
            return self._refused("presigned-put", "the presigned PUT", refused)
        with contextlib.suppress(S3RequestError):  # the write check says whether deleting works
            await self._call("DeleteObject", key, Key=key)
        clamped = f" (clamped: {request.clamped})" if request.clamped else ""
        return DoctorCheck(
            "presigned-put",
            Status.OK,
            f"a URL signed here, valid {human_seconds(request.expires_in)}{clamped}, "
            "uploads with no credentials",
        )

    async def cors(self, origin: str | None, mode: UploadMode) -> DoctorCheck:
        if origin is None:
            return DoctorCheck(
                "cors", Status.SKIPPED, "give --origin (the page's origin) to check browser uploads"
            )
        try:
            answer = await self._call("GetBucketCors")
            rules: list[dict[str, Any]] | None = answer.get("CORSRules", [])
        except S3RequestError as exc:
            if exc.code != "NoSuchCORSConfiguration":
                return self._refused("cors", "GetBucketCors", exc, Status.WARNING)
            rules = None
        report = check_cors_rules(rules, origin=origin, mode=mode)
        # The summary says what stops the browser; the evidence, the rules S3 gave and what
        # the browser can do without.
        evidence = (
            *_rules_read(rules),
            *(f"not blocking: {f.problem}" for f in report.findings if not f.blocking),
        )
        if report.ok:
            return DoctorCheck(
                "cors", Status.OK, f"a browser at {origin} may upload ({mode})", evidence
            )
        suggested = json.dumps({"CORSRules": list(report.suggested_rules)})
        return DoctorCheck(
            "cors",
            Status.PROBLEM,
            f"a browser at {origin} cannot upload ({mode}): "
            + "; ".join(f.problem for f in report.findings if f.blocking),
            evidence,
            (
                *(f.fix for f in report.findings if f.blocking),
                f"aws s3api put-bucket-cors --bucket {self.bucket} --cors-configuration "
                f"'{suggested}'",
            ),
        )

    async def encryption(self) -> DoctorCheck:
        evidence: list[str] = []
        try:
            config = await self._call("GetBucketEncryption")
            rules = config.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
            default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
            algorithm = default.get("SSEAlgorithm")
            key = default.get("KMSMasterKeyID")
            evidence.append(
                f"default encryption: {algorithm or 'none'}" + (f" ({key})" if key else "")
            )
        except S3RequestError as exc:
            if exc.code not in ("ServerSideEncryptionConfigurationNotFoundError", "NotImplemented"):
                return self._refused("encryption", "GetBucketEncryption", exc, Status.SKIPPED)
            algorithm = key = None
            evidence.append("no default encryption configured")
        required = await self._kms_required()
        if required:
            evidence.append(required)
        kms = (algorithm or "").startswith("aws:kms") or required is not None
        if not kms:
            return DoctorCheck(
                "encryption",
                Status.OK,
                f"{algorithm or 'no default encryption'}; KMS not required",
                tuple(evidence),
            )
        key_named = key or "the bucket's KMS key"
        fixes: tuple[str, ...] = (
            f"uploads need kms:GenerateDataKey (and kms:Decrypt for multipart) on {key_named}",
        )
        if required:
            fixes = (
                "pass extra_args={'ServerSideEncryption': 'aws:kms'} (--sse aws:kms): the "
                "bucket policy refuses other uploads",
                *fixes,
            )
        status = Status.OK if self.wrote else Status.WARNING
        return DoctorCheck(
            "encryption",
            status,
            "SSE-KMS" + (" is required by the bucket policy" if required else " by default"),
            tuple(evidence),
            fixes,
        )

    async def _kms_required(self) -> str | None:
        """A bucket policy statement that denies uploads without SSE-KMS, if one can be read."""
        try:
            answer = await self._call("GetBucketPolicy")
            policy = json.loads(answer.get("Policy") or "{}")
        except (S3RequestError, ValueError):
            return None
        statements = policy.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if statement.get("Effect") != "Deny":
                continue
            text = json.dumps(statement.get("Condition", {}))
            if "s3:x-amz-server-side-encryption" in text and "aws:kms" in text:
                sid = statement.get("Sid", "(no Sid)")
                return f"bucket policy statement {sid!r} denies uploads without SSE-KMS"
        return None

    def _refused(
        self, name: str, doing: str, exc: UploadError, status: Status = Status.PROBLEM
    ) -> DoctorCheck:
        if exc.diagnosis is None:
            return DoctorCheck(name, status, f"{doing} failed: {exc.message}")
        return _failed(name, status, f"{doing} was refused", exc.diagnosis)

    @staticmethod
    def _lines(exc: S3RequestError) -> tuple[str, ...]:
        diagnosis = exc.diagnosis
        if diagnosis is None:
            return (exc.message,)
        return (f"{diagnosis.cause}: {diagnosis.summary}", *diagnosis.evidence[:1])


def _rules_read(rules: Sequence[Mapping[str, Any]] | None) -> tuple[str, ...]:
    """The bucket's CORS rules as GetBucketCors gave them, a line each (the first ten)."""
    if rules is None:
        return ("GetBucketCors: NoSuchCORSConfiguration",)

    def listed(rule: Mapping[str, Any], name: str) -> str:
        return ", ".join(rule.get(name) or ()) or "none"

    shown = [
        f"rule {number}: origins {listed(rule, 'AllowedOrigins')}; methods "
        f"{listed(rule, 'AllowedMethods')}; headers {listed(rule, 'AllowedHeaders')}; "
        f"exposes {listed(rule, 'ExposeHeaders')}"
        for number, rule in enumerate(rules[:_RULES_SHOWN], 1)
    ]
    if len(rules) > _RULES_SHOWN:
        shown.append(f"... and {len(rules) - _RULES_SHOWN} more rules")
    count = "1 rule" if len(rules) == 1 else f"{len(rules)} rules"
    return (f"GetBucketCors: {count}", *shown)
