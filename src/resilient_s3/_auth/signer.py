"""Signs the transport's requests with an uploader's credentials and its server clock."""

from __future__ import annotations

from collections.abc import Mapping

from .clock import ServerClock
from .credentials import CredentialOwner
from .sigv4 import sign_request


class RequestSigner:
    """SigV4 header signing by the one credential owner, at the server's time."""

    def __init__(self, owner: CredentialOwner, clock: ServerClock) -> None:
        self._owner = owner
        self._clock = clock

    async def sign(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        *,
        region: str,
        payload_sha256: str | None,
    ) -> tuple[dict[str, str], int]:
        credentials, generation = await self._owner.get()
        signed = sign_request(
            method,
            url,
            headers,
            credentials=credentials,
            region=region,
            payload_sha256=payload_sha256,
            now=self._clock.now,
        )
        return signed, generation
