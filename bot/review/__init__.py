"""Turning lint results for a pull request into one GitHub review and one check run."""
