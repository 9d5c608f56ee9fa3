"""The one owner of the clock offset: what to add to the local clock so signatures carry the
server's time.

A machine whose clock is off by more than 15 minutes gets RequestTimeTooSkewed from S3 on every
request; botocore never corrects it (boto/boto3#1252). The offset is learned once from the
``Date`` header of the server's refusal and applied to every later signature of the uploader,
its control calls included.
"""

from __future__ import annotations

import datetime

from .sigv4 import Clock, utc_now


class ServerClock:
    """Local UTC time plus an offset learned from the server."""

    def __init__(self, local: Clock = utc_now) -> None:
        self._local = local
        self.offset = 0.0
        """Seconds added to the local clock."""

    def __repr__(self) -> str:
        return f"<ServerClock offset={self.offset:+.0f}s>"

    def now(self) -> datetime.datetime:
        """Naive UTC, as the signers want it."""
        local = self._local()
        if not self.offset:
            return local
        return local + datetime.timedelta(seconds=self.offset)

    def epoch(self) -> float:
        """The server's time now, in seconds since the epoch (credential expiries are)."""
        return self.now().replace(tzinfo=datetime.UTC).timestamp()

    def learn(self, server_time: datetime.datetime | None) -> bool:
        """Adopt the offset to ``server_time`` (naive UTC); False if there is nothing to learn."""
        if server_time is None:
            return False
        self.offset = round((server_time - self._local()).total_seconds())
        return True
