"""AWS's access-denied context, read: who was refused what, on which resource, by which kind of
policy, and whether a policy said Deny or none said Allow.

S3 adds it to AccessDenied messages for requests from the bucket's own account or
organization (troubleshoot-403-errors in the S3 user guide)::

    User: <arn> is not authorized to perform: <action> on resource: "<arn>"
        because no <policy type> allows the <action> action
    User: <arn> is not authorized to perform: <action> on resource: "<arn>"
        with an explicit deny in a <policy type>

(the ``on resource`` part is often absent). A bare ``Access Denied`` is what everyone else
gets: cross-account requests, VPC endpoint policies, S3-compatible servers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POLICY_TYPES = (
    "service control policy",
    "resource control policy",
    "VPC endpoint policy",
    "permissions boundary",
    "session policy",
    "resource-based policy",
    "identity-based policy",
)
_TYPES = "|".join(re.escape(kind) for kind in POLICY_TYPES)
_CONTEXT = re.compile(
    r"User: (?P<principal>\S+) is not authorized to perform: (?P<action>[\w:*-]+)"
    r"(?: on (?:resource: )?(?P<resource>\"[^\"]*\"|\S+(?: resource)?))?"
    r"(?: (?:because no (?P<allowing>" + _TYPES + r")"
    r"|with an explicit deny in (?:an? |the )?(?P<denying>" + _TYPES + r")))?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Denial:
    principal: str
    action: str
    resource: str | None
    policy_type: str | None
    explicit: bool

    @property
    def is_kms(self) -> bool:
        return self.action.lower().startswith("kms:")


def read_denial(message: str) -> Denial | None:
    matched = _CONTEXT.search(message)
    if matched is None:
        return None
    resource = matched["resource"]
    if resource is not None:
        resource = resource.strip('"')
        if resource in ("this resource", "this"):
            resource = None
    denying, allowing = matched["denying"], matched["allowing"]
    kind = denying or allowing
    canonical = next((k for k in POLICY_TYPES if kind and k.lower() == kind.lower()), kind)
    return Denial(matched["principal"], matched["action"], resource, canonical, denying is not None)


def policy_fix(denial: Denial, bucket_hint: str | None = None) -> str:
    """Where to look and what to change, for the policy type that refused."""
    who, action = denial.principal, denial.action
    on = f" on {denial.resource}" if denial.resource else ""
    kind = denial.policy_type
    if denial.explicit:
        where = {
            "service control policy": "your AWS Organization's service control policies (an "
            "organization administrator must change them)",
            "resource control policy": "your AWS Organization's resource control policies (an "
            "organization administrator must change them)",
            "VPC endpoint policy": "the policy of the VPC endpoint the request went through",
            "permissions boundary": f"the permissions boundary attached to {who}",
            "session policy": "the session policy passed when the role was assumed "
            "(AssumeRole's Policy or PolicyArns, or the federation token's policy)",
            "resource-based policy": "the bucket policy"
            + (f" (aws s3api get-bucket-policy --bucket {bucket_hint})" if bucket_hint else ""),
            "identity-based policy": f"the IAM policies attached to {who} (and its groups)",
        }.get(kind or "", "the policies that apply to this request")
        return (
            f"find the Deny statement for {action}{on} in {where}; Deny statements usually "
            "carry conditions (aws:SourceVpce, aws:SecureTransport, "
            "s3:x-amz-server-side-encryption, aws:PrincipalOrgID): make the request meet "
            "them, or narrow the statement"
        )
    where = {
        "service control policy": "your AWS Organization's service control policies must "
        f"allow {action} (an organization administrator must change them)",
        "resource control policy": "your AWS Organization's resource control policies must "
        f"allow {action}",
        "VPC endpoint policy": f"the VPC endpoint's policy must allow {action}{on}",
        "permissions boundary": f"the permissions boundary of {who} must allow {action}{on} "
        "too (identity policies cannot grant beyond it)",
        "session policy": f"the session policy passed when the role was assumed must allow "
        f"{action}{on}",
        "resource-based policy": f"the bucket policy must allow {who} to {action}{on} "
        "(access from another account needs the bucket policy and the caller's IAM policy)",
        "identity-based policy": f"add an Allow for {action}{on} to the IAM policies of {who}",
    }.get(kind or "", f"allow {action}{on} for {who}")
    return where
