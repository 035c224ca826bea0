"""Weights from the Hugging Face Hub: ``REPO_OWNER/REPO_NAME/PATH/IN/REPO[@REVISION]``.

Downloads go through ``huggingface_hub.hf_hub_download`` so its cache, ``HF_HUB_OFFLINE`` and
``local_files_only`` behave as everywhere else in the ecosystem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, WeightsNotFoundError


@dataclass(frozen=True)
class HubRef:
    repo_id: str
    filename: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{self.repo_id}/{self.filename}" + (f"@{self.revision}" if self.revision else "")


def parse_hub_ref(text: str) -> HubRef:
    """``owner/repo/file.safetensors[@rev]`` (an optional ``hf://`` prefix is accepted)."""
    s = text.removeprefix("hf://")
    rev = None
    if "@" in s:
        s, rev = s.rsplit("@", 1)
        if not rev:
            raise ConfigError(f"{text!r}: empty revision after '@'")
    parts = s.split("/")
    if len(parts) < 3 or not all(parts):
        raise ConfigError(f"{text!r} is neither an existing file nor a Hub reference OWNER/REPO/FILE[@REVISION]")
    return HubRef("/".join(parts[:2]), "/".join(parts[2:]), rev)


def offline_mode() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hub_download(ref: HubRef, *, local_files_only: bool | None = None, cache_dir: str | None = None) -> Path:
    """Download (or find in the cache) one file; errors become ``WeightsNotFoundError`` with what to do."""
    from huggingface_hub import hf_hub_download  # noqa: PLC0415
    from huggingface_hub.errors import (  # noqa: PLC0415
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    only_local = offline_mode() if local_files_only is None else local_files_only
    try:
        path = hf_hub_download(
            ref.repo_id, ref.filename, revision=ref.revision, local_files_only=only_local, cache_dir=cache_dir,
            library_name="vmambair",
        )
    except LocalEntryNotFoundError:
        why = "offline mode (HF_HUB_OFFLINE=1 or --offline)" if only_local else "the Hub cannot be reached"
        raise WeightsNotFoundError(
            f"{ref} is not in the local Hugging Face cache and {why}; download it on a connected machine "
            "(e.g. `hf download` or one online run) or pass a local file with --weights"
        ) from None
    except RevisionNotFoundError:
        raise WeightsNotFoundError(f"{ref}: revision {ref.revision!r} does not exist on the Hub") from None
    except EntryNotFoundError:
        raise WeightsNotFoundError(f"{ref}: no file {ref.filename!r} in repository {ref.repo_id}") from None
    except RepositoryNotFoundError:
        raise WeightsNotFoundError(f"{ref}: repository {ref.repo_id!r} not found (or private: log in with `hf auth login`)") from None
    except HfHubHTTPError as exc:
        raise WeightsNotFoundError(f"{ref}: download failed: {exc}") from None
    return Path(path)


def cached_path(ref: HubRef, cache_dir: str | None = None) -> Path | None:
    """Where the file sits in the cache, or None (never touches the network)."""
    from huggingface_hub import try_to_load_from_cache  # noqa: PLC0415

    found = try_to_load_from_cache(ref.repo_id, ref.filename, revision=ref.revision, cache_dir=cache_dir)
    return Path(found) if isinstance(found, str) else None
