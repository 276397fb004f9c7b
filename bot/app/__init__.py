"""The GitHub App: settings, webhook receiver, routing."""
