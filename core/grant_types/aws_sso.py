"""`aws-sso`: an AWS IAM Identity Center account assignment of a permission set."""

from __future__ import annotations

import re

from core.grant_types import GrantType, Options
from core.yamlread import excerpt

# The shapes the IAM Identity Center API reference gives (InstanceArn, PermissionSetArn,
# TargetId). A permission set ARN is also accepted with `instance/` where the reference has
# `permissionSet/`, the form moto, the AWS test double, hands out.
INSTANCE_ARN = re.compile(r"arn:aws(-[a-z]{1,5}){0,3}:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}")
PERMISSION_SET_ARN = re.compile(
    r"arn:aws(-[a-z]{1,5}){0,3}:sso:::(permissionSet|instance)/(sso)?ins-[a-zA-Z0-9-.]{16}/ps-[a-zA-Z0-9-./]{16}"
)
ACCOUNT_ID = re.compile(r"\d{12}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


def _instance_id(arn: str) -> str:
    return arn.split("/")[1] if "/" in arn else ""


def problems(options: Options) -> list[str]:
    found = []
    instance = options.get("instance_arn")
    permission_set = options.get("permission_set_arn")
    account = options.get("account_id")
    region = options.get("region")
    if not isinstance(instance, str) or not INSTANCE_ARN.fullmatch(instance):
        found.append(
            "an aws-sso grant needs `instance_arn: arn:aws:sso:::instance/ssoins-...` "
            f"(got '{excerpt(instance)}')"
        )
    if not isinstance(permission_set, str) or not PERMISSION_SET_ARN.fullmatch(permission_set):
        found.append(
            "an aws-sso grant needs `permission_set_arn: arn:aws:sso:::permissionSet/ssoins-.../ps-...` "
            f"(got '{excerpt(permission_set)}')"
        )
    elif (
        isinstance(instance, str)
        and INSTANCE_ARN.fullmatch(instance)
        and _instance_id(permission_set) != _instance_id(instance)
    ):
        found.append("permission_set_arn belongs to another instance than instance_arn")
    if not isinstance(account, str) or not ACCOUNT_ID.fullmatch(account):
        found.append(
            'an aws-sso grant needs `account_id: "123456789012"`: twelve digits, quoted '
            "(unquoted, YAML reads it as a number and drops leading zeros)"
        )
    if not isinstance(region, str) or not REGION.fullmatch(region):
        found.append(
            "an aws-sso grant needs `region: us-east-1` (the region of the Identity Center instance)"
        )
    return found


def target(options: Options) -> str:
    permission_set = str(options.get("permission_set_arn") or "").rsplit("/", 1)[-1]
    return f"aws-sso {permission_set} in account {excerpt(options.get('account_id'))} ({excerpt(options.get('region'))})"


GRANT_TYPE = GrantType("aws-sso", problems, target)
