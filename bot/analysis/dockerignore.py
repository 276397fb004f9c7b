"""`.dockerignore` matching, following moby/patternmatcher: patterns are cleaned paths relative to
the context root, `*` and `?` do not cross `/`, `**` matches any number of directories, a
leading `!` re-includes, and the last matching pattern wins. A pattern that matches a directory
excludes everything below it.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class _Pattern(NamedTuple):
    regex: re.Pattern[str]
    exclusion: bool  # a `!pattern` line
    text: str


def _translate(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("^"):
                    body = "!" + body[1:]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    # A match on a directory covers its contents.
    return re.compile("^" + "".join(out) + "(?:/.*)?$")


class DockerIgnore:
    def __init__(self, patterns: list[_Pattern], source: str) -> None:
        self._patterns = patterns
        self.source = source

    @classmethod
    def parse(cls, text: str, source: str = ".dockerignore") -> DockerIgnore:
        patterns: list[_Pattern] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            if exclusion:
                line = line[1:].strip()
            line = re.sub(r"/+", "/", line).strip("/")
            if line.startswith("./"):
                line = line[2:]
            if not line or line == ".":
                continue
            patterns.append(_Pattern(_translate(line), exclusion, raw.strip()))
        return cls(patterns, source)

    def excludes(self, path: str) -> bool:
        """Whether `path` (relative to the context root) is left out of the build context."""
        path = path.strip("/")
        excluded = False
        for pattern in self._patterns:
            if pattern.regex.match(path):
                excluded = not pattern.exclusion
        return excluded
