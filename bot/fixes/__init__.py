"""Fixes as line-range replacements on the original text: building them and applying them."""
