"""The Slack surface: `/access`, approval messages with buttons, modals, the App Home tab, and
the `Notifier` that sends and updates messages, on slack-bolt's `AsyncApp`.

Only this package imports slack_bolt / slack_sdk; the bot mounts it (see `bot/slack_wiring.py`).
"""
