"""What ``doctor`` found: one finding per check, each with its evidence and fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from .model import Diagnosis


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    """Uploads work, but something will bite: credentials about to expire, a clock that
    other tools will trip on, a permission that resume needs."""
    PROBLEM = "problem"
    """Uploads (or browser uploads, or presigned URLs) fail as set up."""
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class DoctorCheck:
    """One live check of ``doctor``."""

    name: str
    status: Status
    summary: str
    evidence: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()
    diagnosis: Diagnosis | None = None
    """When a request failed: its diagnosis (the cause, its evidence and fixes)."""

    @classmethod
    def failed(cls, name: str, status: Status, doing: str, diagnosis: Diagnosis) -> DoctorCheck:
        """A check whose request S3 (or the network) refused."""
        return cls(
            name,
            status,
            f"{doing}: {diagnosis.cause}: {diagnosis.summary}",
            diagnosis.evidence,
            diagnosis.fixes,
            diagnosis,
        )


@dataclass(frozen=True, slots=True)
class DoctorReport:
    """Every check ``doctor`` ran against one bucket and prefix; ``ok`` when none found a
    problem (warnings allowed)."""

    target: str
    endpoint: str
    checks: tuple[DoctorCheck, ...]

    @property
    def ok(self) -> bool:
        """True when no check found a problem (warnings allowed)."""
        return not self.problems

    @property
    def problems(self) -> tuple[DoctorCheck, ...]:
        """The checks that found a problem."""
        return tuple(check for check in self.checks if check.status is Status.PROBLEM)

    @property
    def warnings(self) -> tuple[DoctorCheck, ...]:
        """The checks that found something that will bite later."""
        return tuple(check for check in self.checks if check.status is Status.WARNING)

    def check(self, name: str) -> DoctorCheck:
        """The check named ``name``: ``credentials``, ``clock``, ``bucket``, ``region``,
        ``write``, ``multipart``, ``presigned-put``, ``cors`` or ``encryption``."""
        return next(check for check in self.checks if check.name == name)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (``resilient-s3 doctor --json``)."""
        return {
            "target": self.target,
            "endpoint": self.endpoint,
            "ok": self.ok,
            "checks": [{**asdict(check), "status": str(check.status)} for check in self.checks],
        }

    def __str__(self) -> str:
        width = max((len(check.name) for check in self.checks), default=0)
        lines = [f"resilient-s3 doctor: {self.target} at {self.endpoint}"]
        for check in self.checks:
            mark = check.status.value.upper() if check.status is Status.PROBLEM else check.status
            lines.append(f"  {mark!s:8} {check.name:{width}}  {check.summary}")
            indent = " " * (13 + width)
            if check.status in (Status.PROBLEM, Status.WARNING):
                lines += [f"{indent}- {line}" for line in check.evidence]
                lines += [f"{indent}fix: {fix}" for fix in check.fixes[:2]]
        problems, warnings = len(self.problems), len(self.warnings)
        if problems or warnings:
            lines.append(f"{_count(problems, 'problem')}, {_count(warnings, 'warning')}")
        else:
            lines.append("all good")
        return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
