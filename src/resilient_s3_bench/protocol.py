"""What the parent sends a worker (a :class:`RunSpec`) and what it answers (a
:class:`WorkerResult`), both as JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Workload = Literal["large", "small"]
WORKLOADS: tuple[Workload, ...] = ("large", "small")

LARGE_KEY = "large.bin"
"""The key, below the run's prefix, of the large workload's object."""

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class RunSpec:
    """One run of one contender: upload ``source`` to ``bucket`` below ``prefix``.

    ``source`` is the large file, or the directory of small files (their keys are ``prefix``
    plus the file names). Credentials are static keys, or ``credentials_url``: an endpoint of
    the parent that issues short-lived keys (``refresh_margin`` seconds before their expiry a
    client should refresh them). ``ca_bundle`` is the PEM file of a CA every client must
    trust for an https endpoint with a private CA (``--tls``, ``--ca-bundle``).
    """

    contender: str
    workload: Workload
    endpoint_url: str
    region: str
    bucket: str
    prefix: str
    source: str
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    credentials_url: str | None = field(default=None, repr=False)
    refresh_margin: float = 1.0
    ca_bundle: str | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        return cls(**json.loads(text))


@dataclass
class WorkerResult:
    """What a worker measured. Times are seconds; memory KiB; ``None`` when not measured."""

    contender: str
    workload: str
    ok: bool = False
    skipped: str | None = None
    """Why the contender could not run here (not importable, unsupported), if it could not."""
    error: str | None = None
    wall: float | None = None
    cpu_user: float | None = None
    cpu_sys: float | None = None
    rss_before_kib: int | None = None
    peak_rss_kib: int | None = None
    files_attempted: int = 0
    files_ok: int = 0
    """Files the contender itself reports uploaded (the parent verifies separately)."""
    bytes_attempted: int = 0
    retries: int | None = None
    """Retried requests as the contender reports them; ``None``: it does not expose them."""
    retries_by_cause: dict[str, int] | None = None
    attempts: int | None = None
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerResult:
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
