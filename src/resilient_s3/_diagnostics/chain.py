"""Reading an exception's chain (``__cause__``, ``__context__``, and aiohttp's ``os_error``):
what the network failure underneath was."""

from __future__ import annotations

import ssl


def chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        nested = getattr(exc, "os_error", None)  # aiohttp's ClientConnectorError
        if isinstance(nested, BaseException) and nested not in seen:
            seen.append(nested)
        exc = exc.__cause__ or exc.__context__
    return seen


def in_chain(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(e, kind) for e in chain(exc))


def certificate_refused(exc: BaseException) -> bool:
    """Whether the TLS handshake refused the server's certificate, anywhere in the chain (the
    ssl module's error, aiohttp's wrapper, or botocore's SSLError, which keeps only its text)."""
    return any(
        isinstance(e, ssl.SSLCertVerificationError)
        or type(e).__name__ == "ClientConnectorCertificateError"
        or "CERTIFICATE_VERIFY_FAILED" in str(e)
        for e in chain(exc)
    )
