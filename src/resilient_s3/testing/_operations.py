"""Which S3 operation an HTTP request is, from its method, path and query alone."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

OPERATIONS = (
    "PutObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "ListParts",
    "ListMultipartUploads",
    "HeadObject",
    "GetObject",
    "DeleteObject",
    "HeadBucket",
    "ListObjects",
    "ListBuckets",
    "CreateBucket",
    "DeleteBucket",
    "PostObject",
    "Other",
)


def classify(method: str, target: str, *, path_style: bool = True) -> str:
    """The S3 operation of a request line, e.g. ``classify("PUT", "/b/k?partNumber=1&uploadId=x")``.

    With ``path_style`` the first path segment is the bucket; otherwise the bucket is in the
    host name and the whole path is the key.
    """
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    segments = parts.path.lstrip("/").split("/", 1) if path_style else ["", parts.path.lstrip("/")]
    bucket = segments[0] if path_style else "bucket"
    key = segments[1] if len(segments) > 1 else ""
    method = method.upper()
    if not bucket:
        return "ListBuckets" if method == "GET" else "Other"
    if not key:
        return {
            "GET": "ListMultipartUploads" if "uploads" in query else "ListObjects",
            "HEAD": "HeadBucket",
            "PUT": "CreateBucket",
            "DELETE": "DeleteBucket",
            "POST": "PostObject",
        }.get(method, "Other")
    has_upload = "uploadId" in query
    if method == "PUT":
        return "UploadPart" if has_upload and "partNumber" in query else "PutObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        return "CompleteMultipartUpload" if has_upload else "Other"
    if method == "DELETE":
        return "AbortMultipartUpload" if has_upload else "DeleteObject"
    if method == "GET":
        return "ListParts" if has_upload else "GetObject"
    if method == "HEAD":
        return "HeadObject"
    return "Other"
