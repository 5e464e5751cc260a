"""One typed configuration tree, fully defaulted, validated once at the boundary.

Precedence, lowest first: the defaults below < a TOML configuration file < environment variables < command-line
options. The file is the one given with `--config`, else `$KEYSTROKE_CONFIG`, else none. Environment variables
are named `KEYSTROKE_<SECTION>__<FIELD>`, for example `KEYSTROKE_ENGINE__MODEL=hf:Qwen/...` or
`KEYSTROKE_SERVER__PORT=9000`; a list is a JSON array:
`KEYSTROKE_CONTEXT__SOURCES='["definitions"]'`. Field descriptions double as `--help` text.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from keystroke.errors import ConfigError, invalid_request

ENV_PREFIX = "KEYSTROKE_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineSettings(_Section):
    kind: str = Field(
        "embedded",
        min_length=1,
        max_length=64,
        description="Inference backend: 'embedded' (llama.cpp in this process), 'remote' (a fleet of "
        "OpenAI-compatible engines at engine.urls: vLLM, SGLang, TGI, llama-server), or another installed "
        "package's (entry points 'keystroke.backends').",
    )
    urls: tuple[str, ...] = Field(
        (), description="Remote: base URLs of the engine replicas, e.g. http://10.0.0.5:8000 (one per replica)."
    )
    remote_model: str | None = Field(
        None, description="Remote: the model name to ask for (default: the first one the first replica lists)."
    )
    remote_key: str | None = Field(None, description="Remote: API key the engines require, sent as a bearer token.")
    tokenizer: str | None = Field(
        None,
        description="Remote: a GGUF ('default', a path or hf:...) whose vocabulary matches the remote model, for "
        "exact token budgets and FIM detection; unset: budgets are estimated at 3 bytes per token.",
    )
    routing: Literal["affinity", "round_robin"] = Field(
        "affinity",
        description="Remote: 'affinity' sends a file's requests to the same replica (its prefix cache hits), "
        "spilling over when that replica is busy; 'round_robin' spreads them evenly.",
    )
    load_factor: float = Field(
        1.25, ge=1.0, le=10.0, description="Remote affinity: a replica takes at most this times the mean load."
    )
    stall_timeout_ms: float = Field(
        3000.0, gt=0, description="Remote: a replica silent this long between two pieces of an answer is failed over."
    )
    first_token_timeout_ms: float = Field(
        10000.0,
        gt=0,
        description="Remote: a replica that sends nothing this long after a request (it evaluates the prompt "
        "first) is failed over.",
    )
    health_interval_s: float = Field(2.0, gt=0, description="Remote: seconds between health checks of replicas.")
    model: str = Field(
        "default",
        description="A catalog name ('default': Qwen2.5-Coder-0.5B-Instruct as Q4_0, made here once from the "
        "installed Q4_K_M pieces; 'smollm2-135m': the small former default; 'qwen2.5-coder-1.5b-q4_0'; "
        "see `keystroke models`), a GGUF path, or hf:OWNER/REPO/FILE.gguf.",
    )
    profile: str | None = Field(
        None, description="Prompt profile override (see `keystroke models`); detected from the vocabulary if unset."
    )
    n_ctx: int = Field(2048, ge=256, le=131072, description="Context window in tokens.")
    n_threads: int | None = Field(None, ge=1, le=512, description="CPU threads; default: all cores.")
    prefill_chunk: int = Field(
        16,
        ge=8,
        le=4096,
        description="Prompt tokens per decode call: how soon a cancelled prefill gives the engine back (16: about "
        "90 ms on a 2-core CPU, for 8% less prefill throughput than 64).",
    )
    kv_slots_mb: int = Field(
        256,
        ge=0,
        le=65536,
        description="Host memory for saved KV slots (other files' and tenants' prompt caches), in MiB; 0: keep "
        "only the live one. The default model needs about 23 MB per 1,000 tokens.",
    )
    kv_slots: int = Field(16, ge=1, le=1024, description="Most saved KV slots, least recently used evicted first.")
    speculative: Literal["off", "on", "gated"] = Field(
        "gated",
        description="Speculative decoding (drafts by prompt lookup, or from engine.draft_model): 'gated' measures it "
        "against plain decoding per language "
        "and lane and keeps it only where it pays; 'on' or 'off' everywhere.",
    )
    draft_model: str | None = Field(
        None,
        description="Speculative drafts from this smaller model of the same vocabulary (a catalog name or GGUF "
        "path, e.g. qwen2.5-coder-0.5b-q4_0 drafting for the 1.5B) instead of prompt lookup; embedded engines of "
        "other models only, behind the same gate.",
    )
    speculative_samples: int = Field(
        20, ge=1, le=100_000, description="Gated: requests measured each way per language and lane before deciding."
    )
    speculative_min_accept: float = Field(
        1.5, ge=0, description="Gated: the least mean accepted draft length (tokens per verification) to keep it."
    )
    speculative_min_gain: float = Field(
        1.1, ge=0, description="Gated: the least decode speed-up (plain ms per token / speculative) to keep it."
    )
    kv_chunk_min: int = Field(
        32,
        ge=0,
        le=4096,
        description="Shortest run of cached tokens moved into place after an edit earlier in the file (0: never "
        "move; re-evaluate from the edit).",
    )


class LaneSettings(_Section):
    """A model per lane. Each unset lane uses the one before it: inline <- engine.model, multiline <- inline,
    invoked <- multiline. Embedded: each distinct model is loaded once, and one CPU scheduler runs them in
    turn (an inline request pauses another model's decode at a token boundary). Remote: the fleet is asked for
    each lane's model by name."""

    inline: str | None = Field(
        None,
        description="Model for inline suggestions while typing (a catalog name, a GGUF path, hf:..., or a "
        "remote model name); unset: engine.model.",
    )
    multiline: str | None = Field(
        None, description="Model for multi-line suggestions (a block after a header); unset: the inline lane's."
    )
    invoked: str | None = Field(
        None, description="Model for explicit requests (the user asked; ranked); unset: the multi-line lane's."
    )

    def models(self, default: str) -> dict[str, str]:
        """Each lane's model: {"inline": ..., "multiline": ..., "invoked": ...}."""
        inline = self.inline or default
        multiline = self.multiline or inline
        return {"inline": inline, "multiline": multiline, "invoked": self.invoked or multiline}


class PromptSettings(_Section):
    budget_tokens: int = Field(
        1024, ge=64, description="Most prompt tokens per request; the cold prefill cost grows with it."
    )
    suffix_share: float = Field(0.25, ge=0.0, le=0.9, description="Share of the budget for the suffix (FIM models).")
    context_tokens: int = Field(
        256,
        ge=0,
        le=8192,
        description="Tokens for context from other files, on top of budget_tokens (context never displaces the "
        "code around the cursor; it changes only at pauses, so the KV cache keeps it).",
    )
    token_healing: Literal["on", "off", "l2r"] = Field(
        "on",
        description="Take the prompt's last token and pre-token back and let the model generate them (token "
        "healing): 'on' for every model, 'off', or 'l2r' for left-to-right models only.",
    )
    context_layout: Literal["auto", "comments"] = Field(
        "auto",
        description="How context from other files is laid out: 'auto', in the model's repository format where its "
        "family has one (Qwen2.5-Coder: <|repo_name|>, <|file_sep|> path + code), commented blocks otherwise; "
        "'comments': commented blocks for every model.",
    )


class CompletionSettings(_Section):
    inline_max_tokens: int = Field(64, ge=1, le=4096, description="Token cap of an inline (one line) completion.")
    multiline_max_tokens: int = Field(160, ge=1, le=4096, description="Token cap of a multi-line completion.")
    multiline_max_lines: int = Field(12, ge=1, le=1000, description="Line cap of a multi-line completion.")
    rank_alternatives: int = Field(
        5,
        ge=0,
        le=32,
        description="Extra candidates ranked against the following code when a new line is suggested (0: greedy only).",
    )
    rank_suffix_lines: int = Field(
        3,
        ge=1,
        le=50,
        description="Lines of following code used to rank candidates (left-to-right models; a FIM prompt has them).",
    )
    rank_automatic: bool = Field(
        False,
        description="Also rank for requests made as the user types (trigger 'automatic'); off by default: "
        "alternatives are decoded one after another, seconds on a laptop CPU.",
    )


class LimitSettings(_Section):
    max_prefix_bytes: int = Field(1_000_000, ge=1, description="Largest accepted segments.prefix, in UTF-8 bytes.")
    max_suffix_bytes: int = Field(1_000_000, ge=1, description="Largest accepted segments.suffix, in UTF-8 bytes.")
    max_body_bytes: int = Field(4_000_000, ge=1024, description="Largest accepted request body, in bytes.")
    max_tokens: int = Field(1024, ge=1, le=32768, description="Largest accepted max_tokens of a request.")


class ContextSettings(_Section):
    workspace: Path | None = Field(
        None, description="Workspace folder to index and collect context from (embedded single-user mode)."
    )
    exclude: tuple[str, ...] = Field(
        (), description="Extra paths never read, in .gitignore syntax (the secret-file defaults always apply)."
    )
    max_file_bytes: int = Field(1_000_000, ge=1, description="Files larger than this are not indexed.")
    cache_dir: Path | None = Field(
        None, description="Index cache folder (default: $KEYSTROKE_CACHE_DIR, else ~/.cache/keystroke)."
    )
    watch: bool = Field(True, description="Follow file changes in the workspace and update the index.")
    workspace_tenant: str = Field(
        "local",
        description="Gateway: the tenant whose requests get context from its workspace ('local': the keyless, "
        "loopback-only single user).",
    )
    sources: tuple[Literal["definitions", "recent_edits", "neighbours", "retrieval"], ...] = Field(
        ("definitions", "recent_edits", "neighbours", "retrieval"),
        description="Context sources to run after prefix and suffix (their priority order is fixed).",
    )
    definitions_ms: float = Field(10.0, gt=0, description="Time budget of the definitions source, in ms.")
    recent_edits_ms: float = Field(10.0, gt=0, description="Time budget of the recent-edits source, in ms.")
    neighbours_ms: float = Field(12.0, gt=0, description="Time budget of the neighbouring-files source, in ms.")
    retrieval_ms: float = Field(12.0, gt=0, description="Time budget of BM25 retrieval, in ms.")
    fast_ms: float = Field(150.0, gt=0, description="Keystrokes closer than this are fast typing (light context).")
    refresh_ms: float = Field(250.0, gt=0, description="A pause this long refreshes retrieval.")
    full_ms: float = Field(500.0, gt=0, description="A pause longer than this collects every source.")
    paste_chars: int = Field(200, ge=1, description="An insertion this large is a paste: collection waits.")


class EditorSettings(_Section):
    gateway: str | None = Field(
        None, description="Gateway URL the language server asks (e.g. http://127.0.0.1:8765); none: embedded."
    )
    key: str | None = Field(None, description="API key sent to the gateway as a bearer token.")
    debounce_ms: float = Field(150.0, ge=0, description="Wait after an ordinary keystroke before asking.")
    multiline: bool = Field(
        True, description="Ask for several lines after a block opener or on an empty line in a block (off: one line)."
    )
    debounce_min_ms: float = Field(100.0, ge=0, description="Shortest wait, however fast the user types.")
    debounce_max_ms: float = Field(300.0, ge=0, description="Longest wait, however slowly the user types.")
    cache_entries: int = Field(10, ge=1, description="Cached suggestions per file.")
    cache_ttl_s: float = Field(30.0, gt=0, description="How long a cached suggestion lives, in seconds.")
    prefetch: bool = Field(
        True,
        description="When a suggestion that ends its line is shown, ask in the background (lowest priority, "
        "dropped whenever other work waits) for the line after it, so it is cached when the user gets there.",
    )
    large_edit_chars: int = Field(
        200, ge=1, description="An edit inserting or removing this much (paste, replace) clears the file's cache."
    )
    completion_wait_ms: float = Field(
        1500.0, gt=0, description="How long a completion list waits for the model's item before going without it."
    )
    timeout_s: float = Field(10.0, gt=0, description="Give up on a gateway answer after this long.")
    jedi_budget_ms: float = Field(
        35.0, gt=0, description="Wait this long for Jedi; a slower call finishes in the background, words answer."
    )
    index_workspace: bool = Field(
        True, description="Index the workspace folder and send context from it with each request to the model."
    )
    index_max_files: int = Field(
        20_000, ge=1, description="Do not index a workspace with more files than this (a home folder, not a project)."
    )
    max_message_bytes: int = Field(
        64 << 20,
        ge=1 << 20,
        le=1 << 31,
        description="Largest message the language server reads from its editor; a larger one is skipped (and "
        "answered with an error if it is a request).",
    )
    telemetry: bool = Field(
        True,
        description="Send what became of suggestions (shown, accepted, dismissed, typed over, characters retained) "
        "to the gateway: metadata only, never code.",
    )


class ServerSettings(_Section):
    host: str = Field("127.0.0.1", description="Address to listen on; loopback by default (any other needs API keys).")
    port: int = Field(8765, ge=0, le=65535, description="TCP port to listen on (0 picks a free one).")
    keys_file: Path | None = Field(
        None,
        description="Tenants and hashed API keys, written by `keystroke keys create` (default: "
        "$KEYSTROKE_DATA_DIR/keys.json, else ~/.local/share/keystroke/keys.json).",
    )
    audit_db: Path | None = Field(
        None, description="Audit log, SQLite (default: audit.sqlite3 beside the key file); records hold no code."
    )
    telemetry_dir: Path | None = Field(
        None,
        description="Telemetry, one SQLite file per tenant (default: a telemetry folder beside the key file).",
    )
    max_auth_header_bytes: int = Field(
        512, ge=64, le=8192, description="Longest accepted Authorization header; a longer one is refused (431)."
    )
    allowed_hosts: tuple[str, ...] = Field(
        (),
        description="Host names (or host:port) requests may be addressed to besides loopback ones; a keyless "
        "gateway refuses every other name (DNS rebinding), a gateway with keys checks only when this is set.",
    )
    allowed_origins: tuple[str, ...] = Field(
        (),
        description="Web page origins (scheme://host:port) allowed to call the gateway from a browser, besides "
        "its own pages; requests from any other page are refused (403).",
    )
    header_timeout_s: float = Field(
        10.0, gt=0, le=3600, description="A connection must send a request's whole header within this long."
    )
    body_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="A request's whole body must arrive within this long after its header."
    )
    keep_alive_s: int = Field(
        5, ge=1, le=3600, description="An idle connection between two requests is closed after this many seconds."
    )
    max_header_bytes: int = Field(
        65536, ge=4096, le=1 << 20, description="Largest request header (request line and fields); larger: 431."
    )
    max_websockets: int = Field(
        64, ge=1, le=100_000, description="Playground sessions (browser tabs) open at once; more are refused."
    )


class AdmissionSettings(_Section):
    per_tenant: int = Field(4, ge=1, le=10_000, description="Requests one tenant may have in flight; more get 429.")
    max_in_flight: int = Field(
        8,
        ge=1,
        le=100_000,
        description="Requests in flight in all (queued or running); more get 429. Multi-line requests may use "
        "half, so inline ones always find room.",
    )
    inline_queue_ms: float = Field(
        1500.0, gt=0, description="An inline request still waiting for the engine after this long is dropped."
    )
    multiline_queue_ms: float = Field(
        4000.0, gt=0, description="A multi-line request still waiting for the engine after this long is dropped."
    )
    request_timeout_ms: float = Field(
        15000.0, gt=0, description="Deadline of a whole request: its generation is stopped at this age."
    )


class PrivacySettings(_Section):
    redact: bool = Field(
        True,
        description="Replace secrets (tokens, keys, passwords, private keys) with placeholders before code "
        "leaves the editor, and again before it reaches the engine.",
    )
    patterns: tuple[str, ...] = Field(
        (), description="Extra secret patterns, Python regexes; group 1, if any, is the secret."
    )
    policy_exclude: tuple[str, ...] = Field(
        (),
        description="Gateway: the organisation's exclusion globs (.gitignore syntax), enforced on every request "
        "and served to editors at /v1/policy; an editor cannot loosen them.",
    )


class Settings(_Section):
    engine: EngineSettings = EngineSettings()
    lanes: LaneSettings = LaneSettings()
    prompt: PromptSettings = PromptSettings()
    completion: CompletionSettings = CompletionSettings()
    limits: LimitSettings = LimitSettings()
    context: ContextSettings = ContextSettings()
    editor: EditorSettings = EditorSettings()
    server: ServerSettings = ServerSettings()
    privacy: PrivacySettings = PrivacySettings()
    admission: AdmissionSettings = AdmissionSettings()


def data_dir() -> Path:
    """Where the gateway keeps its key file and audit log: $KEYSTROKE_DATA_DIR, else the XDG data folder."""
    configured = os.environ.get("KEYSTROKE_DATA_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "keystroke"


def keys_path(settings: Settings) -> Path:
    return settings.server.keys_file or data_dir() / "keys.json"


def audit_path(settings: Settings) -> Path:
    return settings.server.audit_db or keys_path(settings).with_name("audit.sqlite3")


def telemetry_path(settings: Settings) -> Path:
    return settings.server.telemetry_dir or keys_path(settings).with_name("telemetry")


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge defaults, file, environment and `overrides` (dotted keys, `None` values ignored) into Settings."""
    env = os.environ if environ is None else environ
    tree: dict[str, Any] = {}
    path = config_file or (Path(env["KEYSTROKE_CONFIG"]) if env.get("KEYSTROKE_CONFIG") else None)
    if path is not None:
        _merge(tree, _read_toml(path))
    _merge(tree, _from_environment(env))
    _merge(tree, _from_dotted({k: v for k, v in (overrides or {}).items() if v is not None}))
    try:
        return Settings.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from exc


def _from_environment(env: Mapping[str, str]) -> dict[str, Any]:
    dotted = {
        key[len(ENV_PREFIX) :].lower().replace("__", "."): _env_value(value)
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and "__" in key
    }
    return _from_dotted(dotted)


def _env_value(value: str) -> Any:
    """A list field is written as a JSON array (`KEYSTROKE_CONTEXT__EXCLUDE='["vendor/"]'`); the rest as is."""
    if value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"environment value {value!r} starts like a JSON array but is not one: {exc}") from exc
    return value


def _from_dotted(flat: Mapping[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


def _describe(exc: ValidationError, path: Path | None) -> str:
    where = f" (file {path}, environment or command line)" if path else " (environment or command line)"
    return f"invalid settings{where}: {invalid_request(exc.errors(), whole='settings').message}"
