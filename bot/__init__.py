"""Mountie: reviews Dockerfiles for BuildKit mount hazards."""

__version__ = "0.1.0"

# Where Mountie lives: the rule links in review comments and check runs point into its README.
# The one place to change when the repository moves (non-Python files that name it: app.yml,
# deploy/, README's pre-commit example).
PROJECT_URL = "https://github.com/mountie-dev/mountie"
