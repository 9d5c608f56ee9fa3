"""Short-lived keys for worker processes, fetched from the parent.

``python -m resilient_s3_bench.creds URL`` is a botocore ``credential_process``: it prints
``{"Version": 1, "AccessKeyId": ..., "SecretAccessKey": ..., "Expiration": ...}``. There is
no ``SessionToken``: SeaweedFS rejects a session token sent with a static identity's key
(``InvalidAccessKeyId``), and the vendor's keys are such identities.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Sequence
from typing import Any

_TIMEOUT = 10.0


def fetch(url: str) -> dict[str, Any]:
    """The parent's answer: the ``credential_process`` JSON document."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=_TIMEOUT) as response:
        data: dict[str, Any] = json.load(response)
    return data


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m resilient_s3_bench.creds URL", file=sys.stderr)
        return 2
    try:
        document = fetch(args[0])
    except OSError as exc:
        print(f"could not fetch credentials: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
