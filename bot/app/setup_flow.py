"""`mountie setup`: register the GitHub App from its manifest (GitHub's manifest flow), write `.env`.

1. A small page on http://127.0.0.1:PORT/ shows what will be registered (name, owner, webhook,
   permissions, events) and a button whose form posts the manifest to GitHub:
   `{github}/settings/apps/new?state=S` (a personal account) or
   `{github}/organizations/ORG/settings/apps/new?state=S` (`--org ORG`).
2. On GitHub the user confirms ("Create GitHub App"); GitHub sends the browser back to
   `http://127.0.0.1:PORT/callback?code=C&state=S`.
3. The callback checks `state` (it must be the one this run put in the form: CSRF), exchanges the
   code at `POST {api}/app-manifests/{code}/conversions` (no authentication; codes are single-use
   and expire after an hour: both are a clear error, and nothing is written), and writes:
   - the private key to its own file, mode 0600 (`--key-file`; default
     `<slug>.<date>.private-key.pem` beside the env file, GitHub's own download name), or into
     the env file with `--key-in-env` (one line, `\\n` escapes: for docker compose env files);
   - `GITHUB_APP_ID`, `GITHUB_PRIVATE_KEY_PATH`, `GITHUB_WEBHOOK_SECRET`, `GITHUB_CLIENT_ID`,
     `GITHUB_CLIENT_SECRET` (and `GITHUB_API_URL` when it is not api.github.com) into the env file,
     mode 0600, keeping its other lines. An env file that already names an App is refused before
     anything starts, unless `--force`.
4. It prints where the credentials went (never the secrets) and the link that installs the App.

`--github-url` (default https://github.com) and `--api-url` (default `GITHUB_API_URL`, else
https://api.github.com, or `{github-url}/api/v3` for another host: GitHub Enterprise Server)
point it at GitHub Enterprise Server, or at the test emulator.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hmac
import html
import json
import os
import re
import secrets
import tempfile
import threading
import urllib.error
import urllib.request
import webbrowser
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from bot.app.manifest import (
    ManifestError,
    find_manifest,
    load_manifest,
    registration_manifest,
)
from bot.app.settings import DEFAULT_API_URL

DEFAULT_GITHUB_URL = "https://github.com"
DEFAULT_TIMEOUT = 3600.0  # GitHub's codes last an hour; so does the page
EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 2, 130
CALLBACK_PATH = "/callback"
# Every variable this command writes (and so removes first from an existing env file).
WRITTEN_KEYS = (
    "GITHUB_APP_ID",
    "GITHUB_PRIVATE_KEY_PATH",
    "GITHUB_PRIVATE_KEY",
    "GITHUB_WEBHOOK_SECRET",
    "GITHUB_CLIENT_ID",
    "GITHUB_CLIENT_SECRET",
    "GITHUB_API_URL",
)
_ORG = re.compile(r"\A[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\Z")
_ASSIGNMENT = re.compile(r"\A\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\Z")


class SetupError(Exception):
    """What went wrong, in one line fit for the user (never containing a secret)."""


@dataclass(frozen=True, slots=True)
class SetupOptions:
    org: str | None = None
    public_url: str | None = None
    name: str | None = None
    github_url: str = DEFAULT_GITHUB_URL
    api_url: str = DEFAULT_API_URL
    env_file: Path = Path(".env")
    key_file: Path | None = None
    key_in_env: bool = False
    manifest: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    open_browser: bool = True
    force: bool = False
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True, slots=True)
class Registration:
    """What GitHub returns for a converted manifest (the secrets are never shown)."""

    app_id: int
    slug: str
    name: str
    owner: str
    client_id: str
    client_secret: str
    webhook_secret: str | None
    pem: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Registration:
        try:
            owner = data.get("owner") or {}
            return cls(
                app_id=int(data["id"]),
                slug=str(data["slug"]),
                name=str(data.get("name") or data["slug"]),
                owner=str(owner.get("login", "")) if isinstance(owner, Mapping) else "",
                client_id=str(data["client_id"]),
                client_secret=str(data["client_secret"]),
                webhook_secret=str(data["webhook_secret"]) if data.get("webhook_secret") else None,
                pem=str(data["pem"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise SetupError(f"GitHub's answer lacks the App's credentials ({error})") from None


@dataclass(frozen=True, slots=True)
class Written:
    env_file: Path
    key_file: Path | None
    keys: tuple[str, ...]
    generated_webhook_secret: bool


# -- the steps ------------------------------------------------------------------------------------


def new_app_url(github_url: str, org: str | None, state: str) -> str:
    base = github_url.rstrip("/")
    path = f"/organizations/{quote(org)}/settings/apps/new" if org else "/settings/apps/new"
    return f"{base}{path}?{urlencode({'state': state})}"


def install_url(github_url: str, slug: str) -> str:
    return f"{github_url.rstrip('/')}/apps/{quote(slug)}/installations/new"


def exchange_code(api_url: str, code: str, *, timeout: float = 30.0) -> Registration:
    """`POST /app-manifests/{code}/conversions`: the new App's id, key and secrets."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", code):
        raise SetupError("GitHub sent back a malformed code; start again")
    request = urllib.request.Request(
        f"{api_url.rstrip('/')}/app-manifests/{code}/conversions",
        data=b"",
        method="POST",
        headers={
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "mountie-setup",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise SetupError(
                "GitHub did not accept the code: it has expired (codes are valid for one hour) or "
                "it was already used. Nothing was written; start again."
            ) from None
        detail = _github_message(error)
        raise SetupError(f"GitHub refused the code ({error.code}{': ' + detail if detail else ''})") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise SetupError(f"cannot reach {api_url} to exchange the code ({reason})") from None
    if not isinstance(data, dict):
        raise SetupError("GitHub's answer to the code exchange is not an App")
    return Registration.from_json(data)


def _github_message(error: urllib.error.HTTPError) -> str:
    with contextlib.suppress(Exception):
        body = json.loads(error.read())
        message = body.get("message") if isinstance(body, dict) else None
        if isinstance(message, str):
            return message[:200]
    return ""


def existing_app_id(env_file: Path) -> str | None:
    """The GITHUB_APP_ID an env file already sets, if any."""
    try:
        lines = env_file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise SetupError(f"{env_file}: cannot read it ({error})") from None
    for line in lines:
        match = _ASSIGNMENT.match(line)
        if match and match.group(1) == "GITHUB_APP_ID":
            return match.group(2).strip().strip("'\"") or None
    return None


def _without_keys(lines: Iterable[str], keys: Iterable[str]) -> list[str]:
    """The env file's lines minus the assignments of `keys` (a quoted value may span lines)."""
    drop = set(keys)
    kept: list[str] = []
    closing: str | None = None
    for line in lines:
        if closing is not None:  # inside a dropped multi-line quoted value
            if line.rstrip().endswith(closing):
                closing = None
            continue
        match = _ASSIGNMENT.match(line)
        if match and match.group(1) in drop:
            value = match.group(2).strip()
            if value[:1] in ("'", '"') and (len(value) == 1 or not value.endswith(value[0])):
                closing = value[0]
            continue
        kept.append(line)
    return kept


def _quote(value: str) -> str:
    """A double-quoted value python-dotenv and docker compose both read back unchanged."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _write_private(path: Path, data: str) -> None:
    """Write `data` to `path` with mode 0600 from the first byte (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def default_key_file(env_file: Path, slug: str, today: datetime.date | None = None) -> Path:
    day = (today or datetime.date.today()).isoformat()
    return env_file.parent / f"{slug}.{day}.private-key.pem"


def write_credentials(registration: Registration, options: SetupOptions) -> Written:
    """The key file (unless `key_in_env`) and the env file, both 0600."""
    env_file = options.env_file.expanduser().absolute()
    values: dict[str, str] = {"GITHUB_APP_ID": str(registration.app_id)}
    key_file: Path | None = None
    pem = registration.pem.strip() + "\n"
    if options.key_in_env:
        values["GITHUB_PRIVATE_KEY"] = pem
    else:
        key_file = (options.key_file or default_key_file(env_file, registration.slug)).expanduser().absolute()
        _write_private(key_file, pem)
        values["GITHUB_PRIVATE_KEY_PATH"] = str(key_file)
    generated = registration.webhook_secret is None
    values["GITHUB_WEBHOOK_SECRET"] = registration.webhook_secret or secrets.token_hex(20)
    values["GITHUB_CLIENT_ID"] = registration.client_id
    values["GITHUB_CLIENT_SECRET"] = registration.client_secret
    if options.api_url.rstrip("/") != DEFAULT_API_URL:
        values["GITHUB_API_URL"] = options.api_url.rstrip("/")
    try:
        old = env_file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        old = []
    kept = _without_keys(old, WRITTEN_KEYS)
    while kept and not kept[-1].strip():
        kept.pop()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = [f"# GitHub App {registration.slug} (id {registration.app_id}), from `mountie setup` on {stamp}"]
    block += [f"{key}={_quote(value)}" for key, value in values.items()]
    text = "\n".join([*kept, *([""] if kept else []), *block]) + "\n"
    _write_private(env_file, text)
    return Written(env_file, key_file, tuple(values), generated)


# -- the local pages --------------------------------------------------------------------------------

_STYLE = """
body{font:15px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2328;max-width:44em;
margin:3em auto;padding:0 1em}h1{font-size:1.6em}code{background:#eff1f3;padding:.1em .3em;
border-radius:4px}table{border-collapse:collapse}td,th{border:1px solid #d1d9e0;padding:.3em .6em;
text-align:left}button{background:#1f883d;color:#fff;border:0;border-radius:6px;padding:.6em 1.2em;
font-size:1em;cursor:pointer}.error{color:#d1242f}.ok{color:#1a7f37}
"""


def _document(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    ).encode()


class _Flow:
    """State shared by the page handler and `run_setup`: one registration per run."""

    def __init__(self, options: SetupOptions, manifest: dict[str, Any], base_url: str) -> None:
        self.options = options
        self.state = secrets.token_urlsafe(32)
        self.base_url = base_url
        self.manifest = registration_manifest(
            manifest,
            redirect_url=base_url + CALLBACK_PATH,
            public_url=options.public_url,
            name=options.name,
        )
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.registration: Registration | None = None
        self.written: Written | None = None
        self.errors: list[str] = []

    def start_page(self) -> bytes:
        manifest = self.manifest
        owner = (
            f"the organisation <b>{html.escape(self.options.org)}</b>"
            if self.options.org
            else "your personal account"
        )
        hook = manifest["hook_attributes"]
        webhook = (
            f"<code>{html.escape(hook['url'])}</code>"
            if hook.get("active", True)
            else "inactive for now (no <code>--public-url</code>): set its URL on the App's settings "
            "page once Mountie is reachable"
        )
        permissions = "".join(
            f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(level)}</td></tr>"
            for name, level in sorted(manifest.get("default_permissions", {}).items())
        )
        events = ", ".join(f"<code>{html.escape(e)}</code>" for e in manifest.get("default_events", []))
        action = new_app_url(self.options.github_url, self.options.org, self.state)
        body = f"""
<h1>Register Mountie as a GitHub App</h1>
<p>This registers the App <b>{html.escape(manifest["name"])}</b> on {owner}. GitHub asks you to
confirm (and lets you change the name, which must be unique on GitHub), then sends you back here,
and Mountie writes its credentials to <code>{html.escape(str(self.options.env_file))}</code>.</p>
<p>Webhook: {webhook}</p>
<table id="permissions"><tr><th>Permission</th><th>Access</th></tr>{permissions}</table>
<p>Events: {events}</p>
<form id="manifest-form" method="post" action="{html.escape(action)}">
  <input type="hidden" name="manifest" value="{html.escape(json.dumps(manifest))}">
  <button type="submit" id="create-app">Create the GitHub App on GitHub</button>
</form>"""
        return _document("Mountie setup", body)

    def callback(self, query: Mapping[str, list[str]]) -> tuple[int, bytes]:
        """The page GitHub redirects to; registers the App at most once."""
        state = (query.get("state") or [""])[-1]
        code = (query.get("code") or [""])[-1]
        if not hmac.compare_digest(state.encode(), self.state.encode()):
            return self._failed(
                400,
                "This request does not carry the state this setup put in its form, so it did not come "
                "from the GitHub page this setup opened. Nothing was written.",
            )
        if not code:
            return self._failed(400, "GitHub sent no code back. Nothing was written.")
        with self.lock:
            if self.registration is not None:
                return 409, self._success_page(note="This App is already registered.")
            try:
                registration = exchange_code(self.options.api_url, code)
                written = write_credentials(registration, self.options)
            except SetupError as error:
                return self._failed(400, str(error))
            except OSError as error:
                return self._failed(500, f"cannot write the credentials: {error.strerror or error}")
            self.registration, self.written = registration, written
        return 200, self._success_page()

    def _failed(self, status: int, message: str) -> tuple[int, bytes]:
        self.errors.append(message)
        body = (
            f"<h1>Mountie setup</h1><p class='error' id='error'>{html.escape(message)}</p>"
            f"<p><a id='start-again' href='/'>Start again</a></p>"
        )
        return status, _document("Mountie setup: error", body)

    def _success_page(self, note: str = "") -> bytes:
        registration, written = self.registration, self.written
        assert registration is not None and written is not None
        link = install_url(self.options.github_url, registration.slug)
        key = (
            f"and the private key to <code>{html.escape(str(written.key_file))}</code> (mode 600)"
            if written.key_file
            else "(the private key included)"
        )
        body = f"""
<h1 class="ok">Mountie is registered</h1>
<p>{html.escape(note)}</p>
<p>GitHub App <b id="app-name">{html.escape(registration.name)}</b> (id <span id="app-id">{
            registration.app_id
        }</span>) belongs to <b>{html.escape(registration.owner)}</b>.</p>
<p>Its credentials are in <code>{html.escape(str(written.env_file))}</code> (mode 600) {key}.</p>
<p><a id="install" href="{html.escape(link)}">Install it on your repositories</a>, then start
Mountie with <code>mountie serve</code>. You can close this page.</p>"""
        return _document("Mountie setup: done", body)


def _handler(flow: _Flow) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "mountie-setup"
        sys_version = ""

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/":
                self._send(200, flow.start_page())
            elif parts.path == CALLBACK_PATH:
                status, page = flow.callback(parse_qs(parts.query))
                self._send(status, page)
                if flow.registration is not None:
                    flow.done.set()  # after the page went out: the server may now stop
            else:
                self._send(404, _document("Not found", "<h1>Not found</h1>"))

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Referrer-Policy", "no-referrer")  # the code stays off other sites
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the callback URL carries the code."""

    return Handler


# -- the command ----------------------------------------------------------------------------------


def options_from_args(args: argparse.Namespace) -> SetupOptions:
    api_url = args.api_url or os.environ.get("GITHUB_API_URL", "").strip()
    if not api_url:
        web = args.github_url.rstrip("/")
        # GitHub Enterprise Server serves its REST API under /api/v3 of the same host.
        api_url = DEFAULT_API_URL if web == DEFAULT_GITHUB_URL else f"{web}/api/v3"
    return SetupOptions(
        org=args.org,
        public_url=args.public_url,
        name=args.name,
        github_url=args.github_url,
        api_url=api_url,
        env_file=Path(args.env_file),
        key_file=Path(args.key_file) if args.key_file else None,
        key_in_env=args.key_in_env,
        manifest=Path(args.manifest) if args.manifest else None,
        host=args.host,
        port=args.port,
        open_browser=not args.no_browser,
        force=args.force,
        timeout=args.timeout,
    )


def check_options(options: SetupOptions) -> None:
    if options.org is not None and not _ORG.match(options.org):
        raise SetupError(f"--org {options.org!r} is not a GitHub organisation name")
    for flag, url in (
        ("--public-url", options.public_url),
        ("--github-url", options.github_url),
        ("--api-url", options.api_url),
    ):
        if url is None:
            continue
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise SetupError(f"{flag} must be an http(s) URL (got {url[:80]!r})")
    if options.key_in_env and options.key_file is not None:
        raise SetupError("--key-file and --key-in-env exclude each other")
    app_id = existing_app_id(options.env_file)
    if app_id and not options.force:
        raise SetupError(
            f"{options.env_file} already holds a GitHub App's credentials (GITHUB_APP_ID={app_id}); "
            "pass --force to replace them, or --env-file to write elsewhere"
        )


def run_setup(options: SetupOptions, out: IO[str], err: IO[str]) -> int:
    try:
        check_options(options)
        manifest = load_manifest(find_manifest(options.manifest))
    except (SetupError, ManifestError) as error:
        print(f"mountie setup: error: {error}", file=err)
        return EXIT_ERROR
    try:
        server = ThreadingHTTPServer((options.host, options.port), BaseHTTPRequestHandler)
    except OSError as error:
        print(f"mountie setup: error: cannot listen on {options.host}:{options.port} ({error})", file=err)
        return EXIT_ERROR
    host, port = str(server.server_address[0]), int(server.server_address[1])
    shown_host = f"[{host}]" if ":" in host else host
    flow = _Flow(options, manifest, f"http://{shown_host}:{port}")
    server.RequestHandlerClass = _handler(flow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    where = f"the organisation {options.org}" if options.org else "your personal account"
    print(f"Open {flow.base_url}/ in your browser to register Mountie on {where}.", file=out, flush=True)
    if options.open_browser:
        with contextlib.suppress(Exception):
            webbrowser.open(flow.base_url + "/")
    try:
        finished = flow.done.wait(options.timeout)
    except KeyboardInterrupt:
        print("mountie setup: interrupted; nothing was registered", file=err)
        return EXIT_INTERRUPTED
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    if not finished or flow.registration is None or flow.written is None:
        for message in flow.errors:
            print(f"mountie setup: error: {message}", file=err)
        print(f"mountie setup: error: no App was registered within {options.timeout:g} s", file=err)
        return EXIT_ERROR
    _report(flow.registration, flow.written, options, out)
    return EXIT_OK


def _report(registration: Registration, written: Written, options: SetupOptions, out: IO[str]) -> None:
    lines = [
        f"Registered the GitHub App {registration.name!r} (id {registration.app_id}, slug "
        f"{registration.slug}, owner {registration.owner}).",
        f"Wrote {written.env_file} (mode 600): {', '.join(written.keys)}.",
    ]
    if written.key_file is not None:
        lines.append(f"Wrote the private key to {written.key_file} (mode 600).")
    if written.generated_webhook_secret:
        lines.append(
            "GitHub created no webhook secret: one was generated; enter GITHUB_WEBHOOK_SECRET from the "
            "env file as the webhook secret on the App's settings page."
        )
    if not options.public_url:
        lines.append(
            "The webhook is inactive: once Mountie is reachable, set its URL (https://HOST/webhook) "
            "and activate it on the App's settings page."
        )
    lines.append(f"Install it: {install_url(options.github_url, registration.slug)}")
    lines.append(f"Then start Mountie: mountie serve --env-file {written.env_file}")
    print("\n".join(lines), file=out, flush=True)
