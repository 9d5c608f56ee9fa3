"""What each cause reads beyond the code table: one function per cause (or family), each
adding evidence, a sharper summary and fixes to a diagnosis. Their docstrings say what they
read; the troubleshooting page prints them."""

from __future__ import annotations

import re

from .answer import parse_time
from .case import Case, Notes
from .denial import policy_fix, read_denial
from .words import as_int, human_seconds, shown, size_words, title, when

MAX_SKEW = 15 * 60
"""Seconds S3 accepts between a request's time and its own (MaxAllowedSkewMilliseconds)."""
MAX_PUT_SIZE = 5 * 1024**3
"""S3's own MaxSizeAllowed for a single PUT or a part: a lower one is a POST policy's."""


def presigned_url_expired(case: Case, notes: Notes) -> None:
    """When the URL was signed (``X-Amz-Date``), how long it was to live (``X-Amz-Expires``),
    when it expired and how long before the server's time (``ServerTime`` or ``Date``) it was
    used; whether it was signed with temporary credentials, which end it sooner."""
    signing, elements = case.signing, case.answer.elements
    expires_at = (signing.expires_at if signing else None) or parse_time(elements.get("Expires"))
    lifetime = signing.expires_in if signing else None
    if lifetime is None and elements.get("X-Amz-Expires", "").isdigit():
        lifetime = int(elements["X-Amz-Expires"])
    used_at = case.answer.server_time
    clock = "the server's time"
    if used_at is None and case.now is not None:
        used_at, clock = case.now, "this machine's clock"
    if expires_at is not None and used_at is not None and used_at > expires_at:
        late = (used_at - expires_at).total_seconds()
        notes.evidence.append(
            f"it expired at {when(expires_at)}, {human_seconds(late)} before it was used "
            f"({clock}: {when(used_at)})"
        )
        lived = f" (it was valid {human_seconds(lifetime)})" if lifetime is not None else ""
        notes.summary = f"the presigned URL expired {human_seconds(late)} before use{lived}"
    elif lifetime is not None:
        notes.summary = f"the presigned URL, valid {human_seconds(lifetime)}, has expired"
    if signing is not None and signing.temporary:
        notes.fixes.append(
            "it was signed with temporary credentials, and a URL never outlives them: sign "
            "with credentials that last longer than the URL (Presigner clamps the URL's "
            "lifetime to them and says so in `clamped`)"
        )


def clock_skew(case: Case, notes: Notes) -> None:
    """The request's time (``RequestTime``, or its signed ``X-Amz-Date``) against the
    server's (``ServerTime``, or ``Date``), the skew S3 allows
    (``MaxAllowedSkewMilliseconds``), and the offset the uploader had learned."""
    elements, signing = case.answer.elements, case.signing
    requested = parse_time(elements.get("RequestTime")) or (signing.signed_at if signing else None)
    server = case.answer.server_time
    allowed = elements.get("MaxAllowedSkewMilliseconds", "")
    limit = int(allowed) // 1000 if allowed.isdigit() else MAX_SKEW
    if requested is not None and server is not None:
        skew = (requested - server).total_seconds()
        direction = "ahead of" if skew > 0 else "behind"
        notes.evidence.append(
            f"the request was dated {when(requested)}; the server's clock read {when(server)}"
        )
        notes.summary = (
            f"the signing clock is {human_seconds(abs(skew))} {direction} the server's "
            f"(S3 accepts {human_seconds(limit)})"
        )
    if case.clock_offset:
        notes.evidence.append(
            f"resilient-s3 had learned that the server's clock is {case.clock_offset:+.0f} s "
            "from this machine's"
        )


def session_token(case: Case, notes: Notes) -> None:
    """The session token S3 echoes (``Token-0``, never shown), whether the request was signed
    with temporary credentials, and when the uploader's credentials expire(d)."""
    if any(name.startswith("Token-") for name in case.answer.elements):
        notes.evidence.append("S3 echoed the session token it refused (Token-0, not shown)")
    if case.credentials_expire_at is not None:
        notes.evidence.append(
            f"the credentials in use expire(d) at {when(case.credentials_expire_at)}"
        )
    signing = case.signing
    if signing is not None and signing.presigned and signing.temporary:
        notes.summary = (
            "the presigned URL was signed with temporary credentials that have expired: the "
            "URL died with them"
        )
        notes.first(
            "sign URLs with credentials that outlive them; Presigner clamps each URL to its "
            "credentials' expiry (botocore#2604)"
        )


def unknown_access_key(case: Case, notes: Notes) -> None:
    """The access key id S3 does not know (``AWSAccessKeyId``, masked), and whether it was a
    temporary one."""
    key = case.answer.elements.get("AWSAccessKeyId") or (
        case.signing.access_key if case.signing else None
    )
    if key:
        notes.evidence.append(f"S3 does not know access key {key}")
        notes.summary = f"the access key id {key} does not exist for this endpoint"
    notes.fixes.append(
        "the key may be deleted or deactivated (IAM console), or belong to another "
        "account, partition or server (MinIO keys sent to AWS, or the reverse)"
    )
    if (case.signing and case.signing.temporary) or (key and key.startswith("ASIA")):
        notes.fixes.append("temporary keys (ASIA...) end with their session: get fresh ones")


_REGION_WORDS = re.compile(r"region '(?P<signed>[^']+)' is wrong; expecting '(?P<expected>[^']+)'")


def region_mismatch(case: Case, notes: Notes) -> None:
    """The region the request was signed for (its credential scope, or the message's
    "the region 'X' is wrong"), the bucket's (``Region``, the ``x-amz-bucket-region`` header,
    or "expecting 'Y'"), and the ``Endpoint`` S3 names."""
    answer = case.answer
    words = _REGION_WORDS.search(answer.message)
    expected = (
        answer.elements.get("Region")
        or answer.bucket_region
        or (words["expected"] if words else None)
    )
    signed = (case.signing.region if case.signing else None) or (words["signed"] if words else None)
    if expected:
        notes.evidence.append(f"the bucket is in {expected}")
    if signed:
        notes.evidence.append(f"the request was signed for {signed}")
    endpoint = answer.elements.get("Endpoint")
    if endpoint:
        notes.evidence.append(f"S3 names the endpoint {endpoint}")
    if expected and signed and expected != signed:
        notes.summary = f"the request was signed for {signed}, but the bucket is in {expected}"
    elif expected:
        notes.summary = f"the bucket is in {expected}, not the region the request went to"
    if expected:
        if case.signing is not None and case.signing.presigned:
            notes.first(f"sign URLs for {expected}: Presigner(region_name={expected!r})")
        else:
            notes.first(
                f"use region_name={expected!r} (AWS_REGION={expected}, --region {expected})"
            )


def throttled(case: Case, notes: Notes) -> None:
    """The server's ``Retry-After``, when it sends one."""
    retry_after = case.answer.headers.get("retry-after")
    if retry_after:
        notes.evidence.append(f"the server asked to wait {retry_after} s (Retry-After)")


def access_denied(case: Case, notes: Notes) -> None:
    """AWS's access-denied context: the principal, the action, the resource, the policy type
    that refused, and whether a policy said Deny or none said Allow."""
    _read_context(case, notes)


_PLAIN_DENIAL = re.compile(r"access denied\.?", re.IGNORECASE)
"""What S3 says when it gives no reason (AWS ``Access Denied``, MinIO ``Access Denied.``)."""


def permission_denied(case: Case, notes: Notes) -> None:
    """AWS's access-denied context (the principal, the action, the resource, the policy type
    that refused); without it, whether S3 gave a reason at all: a plain ``Access Denied``
    (another account, a VPC endpoint, an S3-compatible server) gets the key that signed and
    where to look, and a reason the table does not know is quoted, not taken for a missing
    permission."""
    if _read_context(case, notes):
        return
    answer = case.answer
    message = answer.message.strip()
    if message and not _PLAIN_DENIAL.fullmatch(message):
        if answer.code == "AccessDenied":
            notes.summary = f"S3 refused the request for the reason it gives: {message}"
            notes.fixes = [
                "act on the reason in S3's message; it is not one this library knows (please "
                "report it, with `resilient-s3 explain --json`)"
            ]
        elif answer.code is None:
            # A body, but no S3 <Error>: whoever wrote it is not S3, and no HEAD answered.
            notes.summary = (
                "refused with a body that is not an S3 error: a proxy, gateway or firewall "
                "answered, or the text given is not the whole answer"
            )
            notes.fixes = [
                "read the body (in the evidence) for who refused and why; S3's own refusals "
                "are an XML <Error> with a Code"
            ]
        return  # a code with its own rule (AllAccessDisabled): the rule says it
    notes.evidence.append(
        "S3 gave no reason: it names the policy only to callers of the bucket's own account "
        "or organization (not through VPC endpoints or to S3-compatible servers)"
    )
    bucket = case.bucket
    key = case.signing.access_key if case.signing and case.signing.access_key else None
    who = f"access key {key}" if key else "these credentials"
    target = f"s3://{bucket}" if bucket else "the bucket"
    notes.fixes.append(f"check what {who} may do on {target}; the bucket policy may deny it")
    notes.fixes.append(
        f"run `resilient-s3 doctor s3://{bucket or 'BUCKET'}/PREFIX`: it tries each permission "
        "an upload needs"
    )


def _read_context(case: Case, notes: Notes) -> bool:
    """The access-denied context, when the message has one, as the summary, evidence and
    fix; False when it has none."""
    denial = read_denial(case.answer.message)
    if denial is None:
        return False
    on = f" on {denial.resource}" if denial.resource else ""
    how = (
        f"an explicit Deny in a {denial.policy_type}"
        if denial.explicit
        else f"no {denial.policy_type} allows it"
        if denial.policy_type
        else "it is not allowed"
    )
    notes.summary = f"{denial.principal} may not {denial.action}{on}: {how}"
    notes.evidence += [
        f"principal: {denial.principal}",
        f"action: {denial.action}",
        *([f"resource: {denial.resource}"] if denial.resource else []),
        f"policy type: {denial.policy_type or 'not named'} "
        f"({'explicit deny' if denial.explicit else 'no Allow'})",
    ]
    specific = policy_fix(denial, case.bucket)
    notes.fixes = [specific, *notes.fixes] if denial.is_kms else [specific]
    if denial.is_kms and not denial.explicit:
        notes.evidence.append(
            "a KMS action: the bucket (or the upload) encrypts with SSE-KMS, and PutObject "
            "needs kms:GenerateDataKey on its key"
        )
    return True


def size_limit(case: Case, notes: Notes) -> None:
    """The size proposed (``ProposedSize``), the limit (``MaxSizeAllowed`` or
    ``MinSizeAllowed``), and the part (``PartNumber``), in exact bytes near the limit; whether
    a browser form's POST policy set the limit (its ``content-length-range``): a
    ``multipart/form-data`` POST, a maximum below S3's own 5 GiB, or a minimum for no part."""
    elements = case.answer.elements
    proposed = as_int(elements.get("ProposedSize"))
    too_small = case.answer.code == "EntityTooSmall" or "MinSizeAllowed" in elements
    limit = as_int(elements.get("MinSizeAllowed" if too_small else "MaxSizeAllowed"))
    part = elements.get("PartNumber")
    form = _form_upload(case, too_small, limit, part)
    relation, bound = ("below", "minimum") if too_small else ("above", "maximum")
    if proposed is not None and limit is not None:
        what = f"part {part}" if part else "the file" if form else "the upload"
        whose = " its POST policy sets (content-length-range)" if form else ""
        notes.summary = (
            f"{what} is {size_words(proposed)}, {relation} the {size_words(limit)} {bound}{whose}"
        )
        notes.evidence.append(f"proposed {proposed} bytes; limit {limit} bytes")
    if form:
        if proposed is None or limit is None:
            notes.summary = (
                f"the file is {'smaller' if too_small else 'larger'} than the form's POST policy "
                "allows (its content-length-range)"
            )
        notes.fixes = [_policy_range_fix(too_small, limit)]
    elif case.signing is not None and case.signing.presigned and not too_small:
        notes.fixes = [
            "a presigned single PUT takes 5 GiB at most: use Presigner.create_multipart for "
            "larger files"
        ]


def _form_upload(case: Case, too_small: bool, limit: int | None, part: str | None) -> bool:
    """Whether a browser form (a POST with a policy) was refused, rather than a PUT or a part:
    the request says so when it is known; S3's answer reads the same for both (the message is
    one), but only a policy's content-length-range sets a maximum below 5 GiB, or a minimum
    without naming a part."""
    request = case.request
    if part is not None or case.operation or (request is not None and request.operation):
        return False  # a part, or an operation with a name (a form has none)
    if request is not None and "content-type" in request.sent:
        return request.sent["content-type"].lower().startswith("multipart/form-data")
    if request is not None and request.method is not None:
        return request.method == "POST"
    return limit is not None and (too_small or limit < MAX_PUT_SIZE)


def _policy_range_fix(too_small: bool, limit: int | None) -> str:
    if limit is not None:
        bound = f"at least {size_words(limit)}" if too_small else f"at most {size_words(limit)}"
        allows = f"allows {bound}"
    else:
        allows = "sets a minimum size" if too_small else "sets a maximum size"
    other = "a lower minimum" if too_small else "a higher maximum"
    return (
        f"the form's POST policy {allows} (its content-length-range): upload a file within it, "
        f"or have the backend sign the form with {other} (presign_post(size_range=(low, high)))"
    )


def missing_resource(case: Case, notes: Notes) -> None:
    """The bucket (``BucketName``) or upload id (``UploadId``) S3 does not know."""
    elements = case.answer.elements
    if elements.get("BucketName"):
        notes.evidence.append(f"bucket: {elements['BucketName']}")
    if elements.get("UploadId"):
        notes.evidence.append(f"upload id: {elements['UploadId']}")
        notes.fixes.append(
            "a lifecycle rule (AbortIncompleteMultipartUpload) or `resilient-s3 cleanup` may "
            "have aborted it"
        )


def unsigned_headers(case: Case, notes: Notes) -> None:
    """The headers S3 found unsigned (``HeadersNotSigned``)."""
    unsigned = case.answer.elements.get("HeadersNotSigned")
    if unsigned:
        notes.evidence.append(f"unsigned: {unsigned}")
        notes.summary = f"the request sent {unsigned}, which its signature does not cover"


def cors_refused(case: Case, notes: Notes) -> None:
    """Whether the bucket has CORS rules at all (the message), the method and resource S3
    names, and the preflight's ``Origin``, ``Access-Control-Request-Method`` and
    ``-Headers``."""
    answer = case.answer
    if "not enabled" in answer.message.lower():
        notes.summary = "the bucket has no CORS configuration: browsers may not upload to it"
    sent = case.request.sent if case.request is not None else {}
    origin = sent.get("origin")
    for name in ("origin", "access-control-request-method", "access-control-request-headers"):
        if sent.get(name):
            notes.evidence.append(f"preflight {title(name)}: {sent[name]}")
    if answer.elements.get("Method"):
        notes.evidence.append(f"method refused: {answer.elements['Method']}")
    if origin:
        bucket = case.bucket or "BUCKET"
        notes.first(
            f"`resilient-s3 cors check s3://{bucket} --origin {origin} --print-rules` prints "
            "the rule to add"
        )


def precondition_failed(case: Case, notes: Notes) -> None:
    """The condition that failed (``Condition``)."""
    condition = case.answer.elements.get("Condition")
    if condition:
        notes.evidence.append(f"condition that failed: {condition}")


_POLICY_CONDITION = re.compile(r"Policy Condition failed: (?P<condition>\[.*\])")
_EXTRA_FIELDS = re.compile(r"Extra input fields: (?P<fields>.+)$")


def post_policy_violation(case: Case, notes: Notes) -> None:
    """The policy condition that failed, or the form fields the policy does not name."""
    message = case.answer.message
    condition = _POLICY_CONDITION.search(message)
    extra = _EXTRA_FIELDS.search(message)
    if condition:
        notes.evidence.append(f"the condition that failed: {condition['condition']}")
        notes.summary = f"the form breaks its policy's condition {condition['condition']}"
    if extra:
        notes.evidence.append(f"fields the policy does not name: {extra['fields']}")
        notes.first("add a condition for every extra form field when signing (presign_post does)")


def checksum_mismatch(case: Case, notes: Notes) -> None:
    """The checksums S3 compared (``ExpectedDigest``/``CalculatedDigest``,
    ``ClientComputedContentSHA256``/``S3ComputedContentSHA256``), the algorithm named; on a
    presigned URL whose checksum was signed (an ``x-amz-checksum-*`` header in
    ``X-Amz-SignedHeaders``, or sent with it), that the body is not the one the signer
    computed it for: the same bytes fail again."""
    elements = case.answer.elements
    for sent, computed in (
        ("ExpectedDigest", "CalculatedDigest"),
        ("ClientComputedContentSHA256", "S3ComputedContentSHA256"),
    ):
        if elements.get(sent) or elements.get(computed):
            notes.evidence.append(
                f"the request said {elements.get(sent, '?')}; S3 computed "
                f"{elements.get(computed, '?')}"
            )
    header = _signed_checksum(case)
    if header is None:
        return
    notes.evidence.append(
        f"the URL signs {title(header)}: its signer fixed the checksum of the body it expects"
    )
    notes.summary = (
        "the body is not the one whose checksum was signed into the URL: the client sends "
        "other bytes than the backend signed for, and re-sending the same bytes fails the same "
        "way"
    )
    notes.fixes = [
        "send the very bytes whose checksum the backend signed (the file as it was when the "
        "URL was asked for: not re-encoded, resized or changed since), with the "
        f"{title(header)} the presigner returned",
        "if the file did change, ask the backend for a new URL signed with the new checksum",
    ]
    notes.retryable = False


def _signed_checksum(case: Case) -> str | None:
    """The checksum header a presigned URL signs (or that was sent with it: a presigned
    request's ``x-amz-*`` headers must all be signed), if any."""
    request, signing = case.request, case.signing
    if request is None or signing is None or not signing.presigned:
        return None
    for name in (*signing.signed_headers, *request.sent):
        if name.startswith("x-amz-checksum-") and name != "x-amz-checksum-type":
            return name
    return "content-md5" if "content-md5" in signing.signed_headers else None


def invalid_part(case: Case, notes: Notes) -> None:
    """The part S3 could not match (``PartNumber``), the ETag sent for it (``ETag``) and the
    upload (``UploadId``); an empty ETag means the client never read it (a browser reads a
    PUT's ETag only where the bucket's CORS rules expose it)."""
    elements = case.answer.elements
    part, etag = elements.get("PartNumber"), elements.get("ETag")
    if part and etag is not None:
        notes.evidence.append(f"part {part} was sent with ETag {shown(etag)}")
        notes.summary = (
            f"part {part} was sent with an ETag S3 does not have for it: the part was not "
            "uploaded, or its ETag was read or copied wrong"
        )
    if elements.get("UploadId"):
        notes.evidence.append(f"upload id: {elements['UploadId']}")
    if etag is not None and etag.strip('"').lower() in ("", "null", "undefined"):
        notes.first(
            f"part {part or 'N'}'s ETag was never read: a browser sees a PUT's ETag only when "
            "the bucket's CORS rules expose it (ExposeHeaders: ETag; `resilient-s3 cors check "
            "s3://BUCKET --origin ORIGIN` checks it)"
        )


def invalid_presigned_url(case: Case, notes: Notes) -> None:
    """The URL's lifetime (``X-Amz-Expires``) against AWS's 7-day limit."""
    signing = case.signing
    if signing is not None and signing.expires_in is not None and signing.expires_in > 604_800:
        notes.evidence.append(f"X-Amz-Expires={signing.expires_in}, above 604800 (7 days)")
        notes.summary = "the presigned URL asks to live longer than AWS allows (7 days)"


def sigv2(case: Case, notes: Notes) -> None:
    """Whether the request carried a SigV2 signature (``AWS key:signature``, or
    ``AWSAccessKeyId``/``Signature`` in the URL)."""
    if case.signing is not None and case.signing.version == "sigv2":
        notes.evidence.append("the request carries a SigV2 signature")
