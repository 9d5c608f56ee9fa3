"""The CORS checker reads a bucket's rules as S3 does: the preflight is allowed by the first
rule that matches the origin, the method and every requested header; S3's answer to the upload
itself carries the exposed headers of the first rule that matches the origin and the method."""

from __future__ import annotations

from typing import Any

import pytest

from resilient_s3 import check_cors_rules

ORIGIN = "https://app.example"
CHECKSUM = "x-amz-checksum-crc32"


def rule(
    methods: tuple[str, ...] = ("PUT",),
    headers: tuple[str, ...] = ("*",),
    expose: tuple[str, ...] = ("ETag",),
    origin: str = ORIGIN,
    **more: Any,
) -> dict[str, Any]:
    return {
        "AllowedOrigins": [origin],
        "AllowedMethods": list(methods),
        "AllowedHeaders": list(headers),
        "ExposeHeaders": list(expose),
        **more,
    }


NARROW = rule(headers=("content-type",))  # lacks the checksum header
WIDE = rule(headers=("*",))
NARROW_HIDING = rule(headers=("content-type",), expose=())  # also hides the ETag
WIDE_HIDING = rule(headers=("*",), expose=())
ONLY_CHECKSUM = rule(headers=(CHECKSUM,))
ONLY_META = rule(headers=("x-amz-meta-*",))


@pytest.mark.parametrize(
    ("rules", "problems"),
    [
        # The preflight skips a rule that lacks a requested header and goes on to the next.
        pytest.param([NARROW, WIDE], [], id="narrow-then-wide"),
        pytest.param([WIDE, NARROW], [], id="wide-then-narrow"),
        # A rule for another method or origin before the one that matches changes nothing.
        pytest.param([rule(methods=("GET",)), WIDE], [], id="get-rule-first"),
        pytest.param(
            [rule(origin="https://other.example", headers=()), WIDE], [], id="other-first"
        ),
        # S3 answers the PUT itself with the first rule for the origin and PUT, whichever
        # rule allowed the preflight: its ExposeHeaders are the ones the page gets.
        pytest.param(
            [NARROW_HIDING, WIDE], ["cannot read the ETag header"], id="answer-rule-hides"
        ),
        pytest.param([WIDE, NARROW_HIDING], [], id="answer-rule-exposes"),
        pytest.param([WIDE_HIDING, NARROW], ["cannot read the ETag header"], id="first-hides"),
        # Each rule allows one of the two headers, none both: the preflight is refused.
        pytest.param(
            [ONLY_CHECKSUM, ONLY_META], ["x-amz-meta-a are not in"], id="no-rule-allows-both"
        ),
        pytest.param(
            [ONLY_META, ONLY_CHECKSUM], [f"{CHECKSUM} are not in"], id="no-rule-allows-both-2"
        ),
    ],
)
def test_rules_are_evaluated_in_order_as_s3_does(
    rules: list[dict[str, Any]], problems: list[str]
) -> None:
    headers = [CHECKSUM, "x-amz-meta-a"] if ONLY_META in rules else [CHECKSUM]
    report = check_cors_rules(rules, origin=ORIGIN, mode="multipart", headers=headers)
    blocking = [finding.problem for finding in report.findings if finding.blocking]
    assert len(blocking) == len(problems), report.findings
    for problem, expected in zip(blocking, problems, strict=True):
        assert expected in problem
    assert report.ok == (not problems)
    if problems:
        fixed = check_cors_rules(
            report.suggested_rules, origin=ORIGIN, mode="multipart", headers=headers
        )
        assert fixed.ok, fixed.findings  # the suggested rules are enough
        # and they are the bucket's rules, in their order, one of them widened
        assert len(report.suggested_rules) == len(rules)
    else:
        assert report.suggested_rules == rules


def test_an_answer_rule_other_than_the_preflight_rule_is_named() -> None:
    report = check_cors_rules(
        [NARROW_HIDING, {**WIDE, "ID": "uploads"}],
        origin=ORIGIN,
        mode="multipart",
        headers=[CHECKSUM],
    )
    [finding] = report.findings
    assert "rule 1" in finding.problem
    assert 'rule 2 ("uploads")' in finding.problem
    assert finding.blocking


def test_the_fix_keeps_the_rules_in_their_order() -> None:
    first = rule(origin="https://other.example", methods=("GET",), headers=())
    report = check_cors_rules(
        [first, NARROW_HIDING, WIDE], origin=ORIGIN, mode="multipart", headers=[CHECKSUM]
    )
    assert report.suggested_rules[0] == first
    assert report.suggested_rules[2] == WIDE
    widened = report.suggested_rules[1]
    assert CHECKSUM in widened["AllowedHeaders"]
    assert "ETag" in widened["ExposeHeaders"]


def test_headers_the_browser_sets_itself_are_not_preflighted() -> None:
    # A PUT presigned with --size signs Content-Length; the browser never lists it.
    report = check_cors_rules(
        [NARROW], origin=ORIGIN, mode="put", headers=["Host", "Content-Length"]
    )
    assert report.ok, report.findings


def test_wildcards_are_s3s_single_star_not_shell_patterns() -> None:
    assert check_cors_rules(
        [rule(headers=("x-amz-*",))], origin=ORIGIN, mode="multipart", headers=["X-Amz-Meta-A"]
    ).ok
    literal = rule(headers=("x-amz-meta-[ab]",))
    assert not check_cors_rules(
        [literal], origin=ORIGIN, mode="multipart", headers=["x-amz-meta-a"]
    ).ok
    assert check_cors_rules([rule(origin="https://*.example")], origin=ORIGIN, mode="multipart").ok
    assert not check_cors_rules(
        [rule(origin="https://ap?.example")], origin=ORIGIN, mode="multipart"
    ).ok


# -- mode "uppy": what the stock Uppy 6 plugin sends ------------------------------------------

UPPY = rule(methods=("GET", "PUT", "POST"), expose=("ETag", "Location"))


def test_uppy_rules_that_allow_parts_and_forms_are_ok() -> None:
    report = check_cors_rules([UPPY], origin=ORIGIN, mode="uppy")
    assert report.ok
    assert report.findings == ()
    assert report.mode == "uppy"


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        # Files of 100 MiB or less go as POST forms: a PUT-only rule (what --mode multipart
        # checks) refuses them.
        ([rule(methods=("PUT",))], "do not allow the POST method"),
        ([rule(methods=("POST",))], "do not allow the PUT method"),
        ([rule(methods=("PUT", "POST"), expose=())], "cannot read the ETag header"),
    ],
)
def test_uppy_needs_put_for_parts_and_post_for_forms(
    rules: list[dict[str, Any]], problem: str
) -> None:
    report = check_cors_rules(rules, origin=ORIGIN, mode="uppy")
    assert not report.ok
    assert any(problem in f.problem for f in report.findings if f.blocking), report.findings
    fixed = check_cors_rules(report.suggested_rules, origin=ORIGIN, mode="uppy")
    assert fixed.ok, fixed.findings
    assert fixed.findings == ()  # the warnings are fixed too


def test_uppy_parts_and_forms_are_answered_by_their_own_rules() -> None:
    # Parts by rule 2 (the first for PUT), forms by rule 1 (the first for POST), which
    # hides the POST's ETag and Location: only what Uppy can do without.
    rules = [rule(methods=("POST",), expose=()), rule(methods=("PUT", "POST"))]
    report = check_cors_rules(rules, origin=ORIGIN, mode="uppy")
    assert report.ok, report.findings
    assert [f.blocking for f in report.findings] == [False, False]
    assert all("POST forms" in f.problem for f in report.findings)
    assert report.suggested_rules[0]["ExposeHeaders"] == ["ETag", "Location"]
    assert report.suggested_rules[1] == rules[1]


def test_uppy_findings_name_the_uploads_they_stop() -> None:
    report = check_cors_rules([rule(methods=("PUT",))], origin=ORIGIN, mode="uppy")
    [finding] = [f for f in report.findings if f.blocking]
    assert "100 MiB or less" in finding.problem
    report = check_cors_rules(
        [rule(methods=("PUT", "POST"), expose=())], origin=ORIGIN, mode="uppy"
    )
    [finding] = [f for f in report.findings if f.blocking]
    assert "over 100 MiB" in finding.problem
    assert "Missing ETag" in finding.problem


def test_uppy_without_cors_gets_one_rule_for_everything() -> None:
    report = check_cors_rules(None, origin=ORIGIN, mode="uppy")
    assert not report.ok
    assert len(report.findings) == 1
    assert check_cors_rules(report.suggested_rules, origin=ORIGIN, mode="uppy").findings == ()
