"""Finishing every upload a crash (or SIGTERM) left in the journal."""

from __future__ import annotations

import logging

from .._exceptions import DirectoryUploadError, InvalidUploadError, SourceError, UploadError
from .._result import UploadResult
from .._s3.errors import Where
from .pipeline import Pipeline, UploadRequest
from .source import FileSource

logger = logging.getLogger("resilient_s3")


async def resume_interrupted(pipeline: Pipeline) -> list[UploadResult]:
    """Upload again every file whose multipart upload to the pipeline's endpoint was
    interrupted, sending only its missing parts (see ``AsyncResilientUploader``)."""
    endpoint = pipeline.backend.endpoint_url
    journal = pipeline.journal
    jobs = [header for _, header, _ in journal.entries() if header.endpoint == endpoint]
    results: list[UploadResult] = []
    failures: dict[str, UploadError] = {}
    for header in jobs:
        name = f"s3://{header.bucket}/{header.key}"
        try:  # its extra_args may have chosen the algorithm
            algorithm = pipeline.kind_for(header.extra_args).algorithm
        except InvalidUploadError:
            algorithm = None
        if header.needs_secrets or header.algorithm != algorithm:
            logger.warning(
                "not resuming %s: run upload_file again with its SSE-C key or with "
                "checksum_algorithm=%s",
                name,
                header.algorithm,
            )
            continue
        try:
            source = FileSource(header.path)
        except SourceError as exc:
            where = Where(header.bucket, header.key, header.upload_id)
            await pipeline.aborts.abort_orphan(where, header, reason=f"{header.path} is gone")
            failures[name] = exc
            continue
        try:
            # Cut as before, whatever this uploader's part size: else nothing would match.
            request = UploadRequest(
                source, header.bucket, header.key, header.extra_args, part_size=header.part_size
            )
            results.append(await pipeline.upload(request))
        except UploadError as exc:
            failures[name] = exc
        finally:
            source.close()
    if failures:
        raise DirectoryUploadError.of(results, failures, len(jobs), "interrupted uploads")
    return results
