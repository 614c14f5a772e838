"""AWS IAM Identity Center: the `aws-sso` grant type."""
