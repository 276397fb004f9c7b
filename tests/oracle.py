"""BuildKit's own parser (the `dockerfile` package, BuildKit v0.12.5) as a test oracle.

Known differences from current BuildKit, where the model follows current BuildKit:
* `# escape=` after a `# check=` directive (v0.12.5 does not know `check` and ignores the escape);
* flags of `ONBUILD RUN --mount=...` (v0.12.5 drops them);
* backslashes inside flags under a backtick escape (v0.12.5 strips them; fixed in frontend 1.15).
"""

from __future__ import annotations

from dataclasses import dataclass

import dockerfile


@dataclass(frozen=True)
class OracleInstruction:
    keyword: str
    start_line: int
    end_line: int
    flags: tuple[str, ...]
    heredocs: tuple[str, ...]


def oracle_parse(text: str) -> list[OracleInstruction]:
    return [
        OracleInstruction(
            (c.cmd or "").upper(),  # a lone continuation at the end of a file has no keyword
            c.start_line,
            c.end_line,
            tuple(c.flags),
            tuple(h.content for h in c.heredocs),
        )
        for c in dockerfile.parse_string(text)
    ]


def oracle_accepts(text: str) -> bool:
    try:
        dockerfile.parse_string(text)
    except dockerfile.GoParseError:
        return False
    return True
