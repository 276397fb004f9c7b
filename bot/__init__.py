"""Mountie: reviews Dockerfiles for BuildKit mount hazards."""

__version__ = "0.1.0"
