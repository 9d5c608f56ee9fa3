"""The blocking face of the uploader: a thin shell that runs the async one on a loop thread."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

from .._config import UploadConfig
from .._events import EventCallback
from .._outcomes import DirectoryReport, FileOutcome
from .._result import CleanupReport, UploaderStats, UploadResult
from .._types import (
    BinaryReadable,
    BotocoreConfigLike,
    CredentialsCallable,
    ProgressCallback,
    SessionLike,
)
from .portal import Blocking
from .uploader import AsyncResilientUploader


class ResilientUploader(Blocking):
    """The blocking face of :class:`AsyncResilientUploader`; same arguments, same behaviour.

    It runs the async uploader on an event loop in a background thread. Progress callbacks are
    called on that thread. Use it as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        session: SessionLike | None = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        config: UploadConfig | None = None,
        *,
        credentials: CredentialsCallable | None = None,
        botocore_config: BotocoreConfigLike | None = None,
        verify: bool | str | None = None,
        on_event: EventCallback | None = None,
        **seams: Any,
    ) -> None:
        self._async: AsyncResilientUploader = AsyncResilientUploader(
            session,
            endpoint_url,
            region_name,
            config,
            credentials=credentials,
            botocore_config=botocore_config,
            verify=verify,
            on_event=on_event,
            **seams,  # the test seams: _sleep, _clock, _backend
        )
        super().__init__(self._async)

    @property
    def config(self) -> UploadConfig:
        """The :class:`UploadConfig` in use."""
        return self._async.config

    @property
    def stats(self) -> UploaderStats:
        """See :attr:`AsyncResilientUploader.stats`."""
        return self._async.stats

    @property
    def endpoint_url(self) -> str | None:
        """See :attr:`AsyncResilientUploader.endpoint_url`."""
        return self._async.endpoint_url

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncResilientUploader", "ResilientUploader", 1)

    def _interrupted(self, exc: BaseException) -> None:
        # On KeyboardInterrupt (Ctrl-C) the upload aborts its multipart upload; on SystemExit
        # (a signal handler ending the process, e.g. for SIGTERM) a journaled multipart upload
        # of a file is left for a later run to resume instead.
        if isinstance(exc, SystemExit):
            self._async._keep_for_resume_on_exit()

    def upload_file(
        self,
        filename: str | os.PathLike[str],
        bucket: str,
        key: str,
        extra_args: Mapping[str, Any] | None = None,
        on_progress: ProgressCallback | None = None,
        *,
        overwrite: bool = True,
    ) -> UploadResult:
        """See :meth:`AsyncResilientUploader.upload_file`."""
        return self._call(
            self._async.upload_file,
            filename,
            bucket,
            key,
            extra_args,
            on_progress,
            overwrite=overwrite,
        )

    def upload_fileobj(
        self,
        fileobj: IO[bytes] | BinaryReadable,
        bucket: str,
        key: str,
        extra_args: Mapping[str, Any] | None = None,
        on_progress: ProgressCallback | None = None,
        *,
        overwrite: bool = True,
    ) -> UploadResult:
        """See :meth:`AsyncResilientUploader.upload_fileobj`."""
        return self._call(
            self._async.upload_fileobj,
            fileobj,
            bucket,
            key,
            extra_args,
            on_progress,
            overwrite=overwrite,
        )

    def cleanup(
        self,
        bucket: str,
        prefix: str = "",
        *,
        older_than: float = 24 * 3600,
        dry_run: bool = False,
    ) -> CleanupReport:
        """See :meth:`AsyncResilientUploader.cleanup`."""
        return self._call(
            self._async.cleanup, bucket, prefix, older_than=older_than, dry_run=dry_run
        )

    def resume_interrupted(self) -> list[UploadResult]:
        """See :meth:`AsyncResilientUploader.resume_interrupted`."""
        return self._run(self._async.resume_interrupted)

    def upload_directory(
        self,
        directory: str | os.PathLike[str],
        bucket: str,
        prefix: str = "",
        extra_args: Mapping[str, Any] | None = None,
        on_progress: ProgressCallback | None = None,
        *,
        overwrite: bool = True,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        skip_unchanged: bool = False,
        guess_content_type: bool = True,
    ) -> list[UploadResult]:
        """See :meth:`AsyncResilientUploader.upload_directory`."""
        return self._call(
            self._async.upload_directory,
            directory,
            bucket,
            prefix,
            extra_args,
            on_progress,
            overwrite=overwrite,
            include=include,
            exclude=exclude,
            skip_unchanged=skip_unchanged,
            guess_content_type=guess_content_type,
        )

    def upload_tree(
        self,
        directory: str | os.PathLike[str],
        bucket: str,
        prefix: str = "",
        extra_args: Mapping[str, Any] | None = None,
        *,
        on_file: Callable[[FileOutcome], None] | None = None,
        on_progress: ProgressCallback | None = None,
        overwrite: bool = True,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        skip_unchanged: bool = False,
        guess_content_type: bool = True,
    ) -> DirectoryReport:
        """See :meth:`AsyncResilientUploader.upload_tree`; ``on_file`` and ``on_progress``
        run on the uploader's loop thread."""
        return self._call(
            self._async.upload_tree,
            directory,
            bucket,
            prefix,
            extra_args,
            on_file=on_file,
            on_progress=on_progress,
            overwrite=overwrite,
            include=include,
            exclude=exclude,
            skip_unchanged=skip_unchanged,
            guess_content_type=guess_content_type,
        )
