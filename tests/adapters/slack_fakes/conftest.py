from tests.fakes.slack.fixtures import fake_slack, slack_client  # noqa: F401
