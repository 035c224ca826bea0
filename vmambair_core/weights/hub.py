"""Weights from the Hugging Face Hub: ``hf://OWNER/REPO/PATH/IN/REPO[@REVISION]`` (``hf://`` optional where
the value cannot be a local path, see :mod:`.spec`).

Downloads go through ``huggingface_hub.hf_hub_download`` so its cache, ``HF_HUB_OFFLINE`` and
``local_files_only`` behave as everywhere else in the ecosystem. Every exception it raises becomes one
``WeightsNotFoundError`` line saying what to do (:func:`hub_error`), never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, WeightsNotFoundError

HUB_SCHEME = "hf://"
#: Modules whose exceptions a download can raise: the Hub client, its HTTP clients, the Xet transfer layer.
_HUB_LAYERS = ("huggingface_hub", "httpx", "requests", "urllib3", "hf_xet")


@dataclass(frozen=True)
class HubRef:
    repo_id: str
    filename: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{HUB_SCHEME}{self.repo_id}/{self.filename}" + (f"@{self.revision}" if self.revision else "")


def parse_hub_ref(text: str) -> HubRef:
    """``[hf://]owner/repo/file.safetensors[@rev]``."""
    s = text.removeprefix(HUB_SCHEME)
    rev = None
    if "@" in s:
        s, rev = s.rsplit("@", 1)
        if not rev:
            raise ConfigError(f"{text!r}: empty revision after '@'")
    parts = s.split("/")
    if len(parts) < 3 or not all(parts):
        raise ConfigError(f"{text!r} is not a Hub file: write hf://OWNER/REPO/FILE[@REVISION]")
    return HubRef("/".join(parts[:2]), "/".join(parts[2:]), rev)


def offline_mode() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


# huggingface_hub.errors class -> what to say (str.format with ref, why, detail); the first match wins,
# so subclasses come before their bases (GatedRepoError is a RepositoryNotFoundError, ...).
_HINTS: tuple[tuple[str, str], ...] = (
    ("LocalEntryNotFoundError", "not in the local Hugging Face cache and {why}; download it on a connected machine "
                                "(e.g. `hf download` or one online run) or pass a local file with --weights"),
    ("OfflineModeIsEnabled", "needs the network but offline mode is on (HF_HUB_OFFLINE=1); unset it or pass a local file"),
    ("GatedRepoError", "repository {ref.repo_id!r} is gated: accept its conditions on its Hub page and log in "
                       "(`hf auth login`)"),
    ("RepositoryNotFoundError", "repository {ref.repo_id!r} not found (or private: log in with `hf auth login`)"),
    ("DisabledRepoError", "repository {ref.repo_id!r} is disabled on the Hub; use other weights"),
    ("RevisionNotFoundError", "revision {ref.revision!r} does not exist on the Hub; drop @REVISION or name an existing one"),
    ("EntryNotFoundError", "no file {ref.filename!r} in repository {ref.repo_id}; check the path inside the repository"),
    ("HFValidationError", "not a valid Hub name ({detail}); Hub files are hf://OWNER/REPO/FILE[@REVISION]"),
    ("HfHubHTTPError", "download failed ({detail}); check the connection or try again"),
)


def hub_error(ref: HubRef, exc: BaseException, *, only_local: bool) -> WeightsNotFoundError:
    """One line for any ``huggingface_hub`` failure: what went wrong with ``ref`` and what to do."""
    from huggingface_hub import errors as hf  # noqa: PLC0415

    text = str(exc).strip()
    detail = text.splitlines()[0] if text else type(exc).__name__
    why = "offline mode (HF_HUB_OFFLINE=1 or --offline)" if only_local else "the Hub cannot be reached"
    template = next(
        (t for name, t in _HINTS if isinstance(exc, getattr(hf, name))),
        f"{type(exc).__name__}: {{detail}}; check the connection and the cache folder (HF_HUB_CACHE)",
    )
    return WeightsNotFoundError(f"{ref}: " + template.format(ref=ref, why=why, detail=detail))


@contextmanager
def _hub_errors(ref: HubRef, *, only_local: bool) -> Iterator[None]:
    """Turn what huggingface_hub (and its HTTP and file layers) raise into :func:`hub_error` lines."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, OSError) or type(exc).__module__.startswith(_HUB_LAYERS):
            raise hub_error(ref, exc, only_local=only_local) from None
        raise


def hub_download(ref: HubRef, *, local_files_only: bool | None = None, cache_dir: str | None = None) -> Path:
    """Download (or find in the cache) one file; errors become ``WeightsNotFoundError`` with what to do."""
    from huggingface_hub import hf_hub_download  # noqa: PLC0415

    only_local = offline_mode() if local_files_only is None else local_files_only
    with _hub_errors(ref, only_local=only_local):
        path = hf_hub_download(
            ref.repo_id, ref.filename, revision=ref.revision, local_files_only=only_local, cache_dir=cache_dir,
            library_name="vmambair",
        )
    return Path(path)


def cached_path(ref: HubRef, cache_dir: str | None = None) -> Path | None:
    """Where the file sits in the cache, or None (never touches the network)."""
    from huggingface_hub import try_to_load_from_cache  # noqa: PLC0415

    with _hub_errors(ref, only_local=True):
        found = try_to_load_from_cache(ref.repo_id, ref.filename, revision=ref.revision, cache_dir=cache_dir)
    return Path(found) if isinstance(found, str) else None
