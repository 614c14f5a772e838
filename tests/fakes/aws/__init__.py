"""AWS IAM Identity Center for tests: moto as a real HTTP server, behind a small proxy that adds
what moto cannot do by itself (throttling, refusals for a missing permission, asynchronous
assignment status)."""
