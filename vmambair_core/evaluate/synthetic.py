"""Synthetic real-world SR benchmarks: a bicubic set's HR degraded once, with fixed seeds, and cached.

What each set is made of is its :class:`~vmambair_core.evaluate.benchmarks.Benchmark` record's
``synthetic`` recipe; this module generates and caches the LQ, and
:func:`vmambair_core.evaluate.loader.load_benchmark` (the one loader) calls :func:`load_synthetic`
with the source set's HR already found.

No real-world test set with ground truth ships here, so ``BSD100-realesrgan`` stands in: every BSD100
HR image (mod-cropped to 4) goes through the realsr training degradation
(:func:`vmambair_core.data.degrade.realesrgan.degrade_realesrgan`, Real-ESRGAN's second-order model with the
authors' options) once, with a generator seeded from the set's seed and the image's key, and the 8-bit
LQ is saved as PNG in a cache folder (``$VMAMBAIR_CACHE/benchmarks/<name>/``, default
``~/.cache/vmambair/benchmarks/<name>/``) on first use.

Why per-image seeds: an image's LQ does not depend on which other images are generated with it (or in
which order), so a subset reproduces the full set's pixels. Why one thread: float reductions then run
in one fixed order, so two generations on one machine are byte-identical.

Everyone must score the same pixels, so the SHA-256 over the decoded LQ pixels (names, shapes, RGB
bytes, in name order; pixels, not PNG bytes, which differ between PNG encoders; decoded by the very
function scoring uses, so no EXIF orientation or bit-depth conversion can differ) is compared with
:data:`REFERENCE_SHA256`, measured when the benchmark was defined. Another CPU or PyTorch build may
round a float differently and flip a few pixels by one level: that is a **warning** on the result
(scores are then comparable only approximately), not an error. A cache that does not match its own
manifest (edited, truncated, another HR source) is regenerated; delete the folder to force it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from vmambair_core.atomic import clean_stale_temps, temp_name
from vmambair_core.data.degrade.mild import degrade_mild
from vmambair_core.data.degrade.realesrgan import degrade_realesrgan
from vmambair_core.data.pairing import ImagePair
from vmambair_core.data.resize import modcrop
from vmambair_core.errors import InputError, VmambairError
from vmambair_core.evaluate.benchmarks import Benchmark, EvalSet, SyntheticRecipe
from vmambair_core.evaluate.runner import read_scored

__all__ = [
    "CACHE_ENV", "REFERENCE_SHA256", "cache_dir", "degrade_one", "generate_lq", "load_synthetic", "pixels_sha256",
]

CACHE_ENV = "VMAMBAIR_CACHE"
MANIFEST = "MANIFEST.json"


REFERENCE_SHA256: dict[str, str] = {
    # Measured on the 2-core x86-64 development machine, torch 2.13.0+cpu (see weights/README.md).
    "BSD100-realesrgan": "6e230c53134c548b79301a0100ed45ef536ade767148d04d399572b8bcdafbde",
    "BSD100-mild": "39703a14e1d94a079b5f062204dd64b48d29d420c38e7626819be50abaa04aac",
}


def cache_dir(name: str) -> Path:
    """``$VMAMBAIR_CACHE/benchmarks/<name>``, else ``$XDG_CACHE_HOME`` or ``~/.cache``/vmambair/benchmarks/<name>."""
    root = os.environ.get(CACHE_ENV)
    if root:
        base = Path(root).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "vmambair"
    return base / "benchmarks" / name


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def degrade_one(hr: np.ndarray, recipe: SyntheticRecipe, key: str) -> np.ndarray:
    """The LQ (uint8 RGB) of one uint8 RGB HR image, mod-cropped to the scale first."""
    cfg = recipe.degradation
    hr = modcrop(hr, cfg.scale)
    x = torch.from_numpy(np.ascontiguousarray(hr.transpose(2, 0, 1))).float()[None] / 255.0
    generator = torch.Generator().manual_seed(recipe.image_seed(key))
    with _one_thread():
        if recipe.mild is not None:
            lq = degrade_mild(x, recipe.mild, generator, scale=cfg.scale)
        else:
            lq = degrade_realesrgan(x, cfg, generator)
    return np.rint(lq[0].permute(1, 2, 0).numpy() * 255.0).astype(np.uint8)


def pixels_sha256(items: Sequence[tuple[str, np.ndarray]]) -> str:
    """SHA-256 over (name, shape, RGB bytes) of each image in name order: what everyone must score."""
    h = hashlib.sha256()
    for key, img in sorted(items, key=lambda kv: kv[0]):
        h.update(f"{key}:{img.shape}\n".encode())
        h.update(np.ascontiguousarray(img).tobytes())
    return h.hexdigest()


def generate_lq(pairs: Sequence[ImagePair], recipe: SyntheticRecipe, out_dir: Path) -> str:
    """Write ``<key>.png`` LQ images for ``pairs`` (HR in ``pair.gt``) into ``out_dir``; their pixel SHA-256."""
    out_dir.mkdir(parents=True, exist_ok=True)
    items = []
    for pair in pairs:
        lq = degrade_one(read_scored(pair.gt), recipe, pair.key)
        if not cv2.imwrite(str(out_dir / f"{pair.key}.png"), cv2.cvtColor(lq, cv2.COLOR_RGB2BGR)):
            raise InputError(f"cannot write {out_dir / f'{pair.key}.png'}")
        items.append((pair.key, lq))
    return pixels_sha256(items)


def _hr_sha256(pairs: Sequence[ImagePair]) -> str:
    h = hashlib.sha256()
    for pair in pairs:
        h.update(pair.key.encode() + b"\n" + hashlib.sha256(pair.gt.read_bytes()).digest())
    return h.hexdigest()


def _cache_valid(folder: Path, pairs: Sequence[ImagePair], recipe: SyntheticRecipe, hr_sha: str) -> str | None:
    """The cached pixel SHA-256 if ``folder`` holds exactly this recipe's LQ, else None."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("recipe") != json.loads(json.dumps(recipe.to_dict())) or manifest.get("hr_sha256") != hr_sha:
            return None
        # Decoded exactly as scoring decodes the LQ: a re-saved file (16-bit, an EXIF orientation) must not pass.
        items = [(p.key, read_scored(folder / f"{p.key}.png")) for p in pairs]
    except (OSError, ValueError, VmambairError):
        return None
    sha = pixels_sha256(items)
    return sha if sha == manifest.get("lq_pixels_sha256") else None


def _build_cache(folder: Path, pairs: Sequence[ImagePair], recipe: SyntheticRecipe, hr_sha: str) -> str:
    """Generate into a temporary sibling folder, then move it into place: never a half-written cache."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(folder.parent)  # what a killed build left behind
    temp = folder.parent / temp_name(folder.name)
    try:
        sha = generate_lq(pairs, recipe, temp)
        manifest = {"recipe": recipe.to_dict(), "hr_sha256": hr_sha, "lq_pixels_sha256": sha,
                    "images": [p.key for p in pairs], "torch": torch.__version__}
        (temp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        try:
            os.replace(temp, folder)
        except OSError:  # another process finished first: use its cache if it is this one
            if _cache_valid(folder, pairs, recipe, hr_sha) != sha:
                raise
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)
    return sha


def load_synthetic(bench: Benchmark, source: EvalSet) -> EvalSet:
    """The synthetic set: ``source``'s HR (the set ``bench.synthetic.source``, found) as GT, the cached LQ
    (generated now if missing or stale)."""
    recipe = bench.synthetic
    if recipe is None:
        raise ValueError(f"{bench.name} is not a synthetic set")
    hr_sha = _hr_sha256(source.pairs)
    folder = cache_dir(bench.name)
    notes: list[str] = []
    sha = _cache_valid(folder, source.pairs, recipe, hr_sha)
    if sha is None:
        sha = _build_cache(folder, source.pairs, recipe, hr_sha)
        notes.append(f"{bench.name}: generated {len(source.pairs)} LQ images into {folder}")
    reference = REFERENCE_SHA256.get(bench.name)
    if reference and sha != reference:
        notes.append(
            f"warning: {bench.name} LQ pixels (SHA-256 {sha[:12]}…) differ from the reference ({reference[:12]}…): "
            "this CPU/PyTorch rounded some float differently, so scores are comparable with others' only "
            f"approximately; to regenerate, delete {folder}"
        )
    status = ("matches the reference" if sha == reference else "no reference" if not reference
              else "differs from the reference")
    pairs = tuple(ImagePair(p.key, p.gt, folder / f"{p.key}.png") for p in source.pairs)
    lq_note = (f"LQ = {recipe.describe()} of HR mod-cropped to {recipe.degradation.scale} "
               f"(seed {recipe.seed}, per-image seeds), cached in {folder}; pixels SHA-256 {sha[:12]}… ({status})")
    return dataclasses.replace(
        source, name=bench.name, task=bench.task, convention=bench.convention, lq_from_gt=False,
        layout=f"{source.layout} + cached LQ", benchmark=bench, pairs=pairs, lq_note=lq_note, notes=tuple(notes),
    )
