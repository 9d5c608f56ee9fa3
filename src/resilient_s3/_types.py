"""The shapes the public API accepts: protocols for what users pass in, and aliases.

Typed by what they do, not what they are: any session with ``get_credentials`` (boto3,
botocore, aioboto3, aiobotocore), any binary stream with ``read``, any callable of the right
shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

ProgressCallback = Callable[[int, "int | None"], object]
"""``on_progress(bytes_done, total)``: called on the event loop, so it must return quickly.
``total`` is None for streams of unknown size."""

CredentialsCallable = Callable[[], "Mapping[str, Any] | Awaitable[Mapping[str, Any]]"]
"""A sync or async callable returning a mapping with ``access_key``, ``secret_key``, ``token``
and ``expiry_time`` (botocore's ``refresh_using`` format), or the AWS spelling
``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``, ``Expiration``."""


class SessionLike(Protocol):
    """A boto3, botocore, aioboto3 or aiobotocore session: its credentials, region and profile
    are used (aioboto3's and aiobotocore's ``get_credentials`` is a coroutine)."""

    def get_credentials(self) -> Any: ...


class BinaryReadable(Protocol):
    """A binary stream: a file opened ``"rb"``, a pipe, a socket's file, ``io.BytesIO``.
    ``readinto`` is used when it has one; ``seek``/``tell`` tell its size when it can."""

    def read(self, size: int = ..., /) -> bytes: ...


class BotocoreConfigLike(Protocol):
    """A ``botocore.config.Config``, merged into the client configuration."""

    def merge(self, other_config: Any) -> Any: ...
