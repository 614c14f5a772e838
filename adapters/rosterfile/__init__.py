"""The `file` roster provider: a YAML rota for the demo, tests and teams without a provider."""
