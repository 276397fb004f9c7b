"""The GitHub App manifest (Probot's `app.yml`): where it is found, and what `mountie setup` posts.

`app.yml` at the repository root is the manifest (name, description, events, least-privilege
permissions); `bot/app/app.yml` is the same file shipped in the package, so an installed Mountie
can register itself without a clone (a test keeps the two identical). `mountie setup` reads, in
this order: `--manifest FILE`, `app.yml` in the current directory (Probot's convention), the
packaged copy. It then fills in what depends on the installation: the webhook URL, the page
GitHub sends the browser back to, and optionally another name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MANIFEST_FILE = "app.yml"
PACKAGED_MANIFEST = Path(__file__).with_name(MANIFEST_FILE)
WEBHOOK_PATH = "/webhook"
# Where the webhook points when no public URL is given: GitHub needs a URL, and the hook is
# registered inactive until the App's settings page gets the real one.
PLACEHOLDER_WEBHOOK_URL = "https://example.invalid/webhook"


class ManifestError(Exception):
    """The manifest cannot be read or is not a manifest; `str()` is the one line to show."""


def find_manifest(explicit: Path | None = None, cwd: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    local = (cwd or Path.cwd()) / MANIFEST_FILE
    return local if local.is_file() else PACKAGED_MANIFEST


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ManifestError(f"{path}: cannot read the App manifest ({error.strerror or error})") from None
    except yaml.YAMLError as error:
        raise ManifestError(f"{path}: the App manifest is not YAML ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data.get("url"):
        raise ManifestError(f"{path}: not a GitHub App manifest (it needs at least `name` and `url`)")
    return data


def webhook_url(public_url: str) -> str:
    """`https://mountie.example.com` -> `https://mountie.example.com/webhook` (kept if already there)."""
    base = public_url.rstrip("/")
    return base if base.endswith(WEBHOOK_PATH) else base + WEBHOOK_PATH


def registration_manifest(
    manifest: dict[str, Any], *, redirect_url: str, public_url: str | None, name: str | None = None
) -> dict[str, Any]:
    """The manifest to post: `manifest` with the webhook URL (`public_url` + /webhook; without
    one, the manifest's own URL, or an inactive placeholder), the redirect back to `mountie
    setup`, and the name (GitHub App names are unique across GitHub)."""
    result = dict(manifest)
    hook = dict(result.get("hook_attributes") or {})
    if public_url:
        hook.update(url=webhook_url(public_url), active=True)
    elif hook.get("url") in (None, "", PLACEHOLDER_WEBHOOK_URL):
        hook.update(url=PLACEHOLDER_WEBHOOK_URL, active=False)
    result["hook_attributes"] = hook
    result["redirect_url"] = redirect_url
    if name:
        result["name"] = name
    return result
