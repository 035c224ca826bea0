"""The test sets of the VmambaIR paper: where their files live, how LQ is made, how they are scored.

A :class:`Benchmark` is a frozen description (task, scale, image count, accepted folder layouts, metric
convention, and for a synthetic set the :class:`SyntheticRecipe` that makes its LQ); :func:`load_files` finds
a set's files under a data root, pairs them by name (:mod:`vmambair_core.data.pairing`, shared with
training) and refuses a missing or incomplete set with the names expected and found. The one loader that
chooses between files and a generated synthetic cache is :func:`vmambair_core.evaluate.loader.load_benchmark`
(this module imports nothing of the generation code, which imports it).

Conventions (those of the papers' own scoring scripts):

* bicubic x4 SR sets (Set5 ... DIV2K100): LR = MATLAB ``imresize(modcrop(HR, 4), 1/4, 'bicubic')``,
  regenerated from HR by default (``lq_source="hr"``) because some distributed LR folders are not
  MATLAB-exact (SelfExSR's BSD100: 1.4% of pixels differ); scored on Y, ``crop_border = 4``;
* real-world SR sets (NTIRE2020 Track 1, AIM2019): LR given; Y, crop 4 (the authors' ``RealSR/Metric``);
* deraining sets: rainy input given; Y, no crop (Restormer's ``evaluate_PSNR_SSIM.m``, which VmambaIR
  ships);
* synthetic real-world SR sets (``BSD100-realesrgan``): a bicubic set's HR degraded once by the realsr
  training pipeline with fixed seeds and cached (recipe here, generation in :mod:`.synthetic`); Y (MATLAB),
  crop 4, like the real-world sets, so the numbers read like the bicubic tables';
* sets without ground truth (``RealSRSet``, or ``--lq DIR`` alone): real low-resolution photos whose
  outputs can only be scored without reference (NIQE, the fixed-pattern amplitude; :mod:`.noref`).

Y is MATLAB's rounded ``rgb2ycbcr`` luma by default (``y_mode="matlab"``): it reproduces the numbers
papers print (Set5 bicubic 28.42 dB / 0.8104); BasicSR's float Y (``"basicsr"``) is the alternative.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args

from vmambair_core.data.degrade.mild import MildConfig
from vmambair_core.data.degrade.config import DegradationConfig
from vmambair_core.data.pairing import ImagePair, Pairing, gt_pairs, list_images, name_list, pair_images
from vmambair_core.errors import ConfigError, InputError
from vmambair_core.metrics.color import Y_MODES, YMode
from vmambair_core.metrics.psnr_ssim import CHANNELS, Channel
from vmambair_core.tasks import Task

__all__ = [
    "BENCHMARKS",
    "ENV_DATA_ROOT",
    "Benchmark",
    "EvalSet",
    "FolderLayout",
    "LqSource",
    "MetricConvention",
    "SyntheticRecipe",
    "custom_set",
    "get_benchmark",
    "input_set",
    "load_files",
    "locate_benchmark",
    "resolve_data_root",
]

Degradation = Literal["bicubic", "given", "synthetic", "none"]
LqSource = Literal["hr", "files"]
LQ_SOURCES: tuple[str, ...] = get_args(LqSource)
ENV_DATA_ROOT = "VMAMBAIR_DATA_ROOT"

# Sub-folders of a data root that may hold the set folders (a development data root has sr/ and derain/,
# Restormer's tree has Datasets/test/).
_GROUPS = ("", "sr", "derain", "real_sr", "realsr", "benchmark", "test", "Datasets/test")


@dataclass(frozen=True)
class MetricConvention:
    """How PSNR/SSIM are computed; printed with every result, since papers differ on each field."""

    channel: Channel = "y"
    crop_border: int = 0
    y_mode: YMode = "matlab"

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ConfigError(f"channel must be one of {CHANNELS}, got {self.channel!r}")
        if self.y_mode not in Y_MODES:
            raise ConfigError(f"y_mode must be one of {Y_MODES}, got {self.y_mode!r}")
        if not isinstance(self.crop_border, int) or self.crop_border < 0:
            raise ConfigError(f"crop_border must be a non-negative integer, got {self.crop_border!r}")

    def describe(self) -> str:
        """E.g. ``Y (matlab), crop 4`` or ``RGB, crop 0``."""
        chan = f"Y ({self.y_mode})" if self.channel == "y" else "RGB"
        return f"{chan}, crop {self.crop_border}"


SR_CONVENTION = MetricConvention("y", 4, "matlab")
DERAIN_CONVENTION = MetricConvention("y", 0, "matlab")


@dataclass(frozen=True)
class FolderLayout:
    """GT and LQ sub-folders of a set folder (``.`` = the set folder itself); ``lq=None``: GT only."""

    gt: str
    lq: str | None = None
    gt_pattern: str = "*"
    lq_pattern: str = "*"

    def describe(self, with_lq: bool = True) -> str:
        gt = f"{self.gt}/" + ("" if self.gt_pattern == "*" else self.gt_pattern)
        if not with_lq or self.lq is None:
            return gt
        return f"{gt} + {self.lq}/" + ("" if self.lq_pattern == "*" else self.lq_pattern)


_BICUBIC_LAYOUTS = (
    FolderLayout("HR", "LR_bicubic_x4"),  # the SR test data's layout
    FolderLayout("HR", "LR_bicubic/X4"),  # EDSR benchmark.tar
    FolderLayout("GTmod12", "LRbicx4"),  # BasicSR's downloads (identical names)
    FolderLayout("HR", "LR"),
    FolderLayout("image_SRF_4", "image_SRF_4", "*_HR.*", "*_LR.*"),  # SelfExSR
    FolderLayout("GT"),
    FolderLayout("."),  # HR images directly in the set folder (e.g. CManga109/)
)
_DIV2K_LAYOUTS = (FolderLayout("DIV2K_valid_HR", "DIV2K_valid_LR_bicubic/X4"), *_BICUBIC_LAYOUTS)
_PAIRED_LAYOUTS = (FolderLayout("HR", "LR"), FolderLayout("GT", "LQ"), FolderLayout("target", "input"))
_DERAIN_LAYOUTS = (
    FolderLayout("norain", "rain"),  # JORDER's layout
    FolderLayout("target", "input"),  # Restormer / MPRNet Datasets/test/<set>/
    FolderLayout("gt", "input"),
    FolderLayout("norain", "rainy"),
)


@dataclass(frozen=True)
class SyntheticRecipe:
    """How a synthetic set's LQ is made from its source set's HR: the realsr pipeline, or ``mild`` when set.

    Generation and the cache are :mod:`vmambair_core.evaluate.synthetic`'s; this is only the record.
    """

    source: str
    seed: int
    degradation: DegradationConfig = dataclasses.field(default_factory=DegradationConfig)
    mild: MildConfig | None = None

    def image_seed(self, key: str) -> int:
        """The generator seed of one image: a hash of the set's seed and the image key."""
        digest = hashlib.sha256(f"{self.seed}:{key}".encode()).digest()
        return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)

    def to_dict(self) -> dict[str, object]:
        if self.mild is not None:
            return {"source": self.source, "seed": self.seed, "mild": dataclasses.asdict(self.mild),
                    "scale": self.degradation.scale}
        return {"source": self.source, "seed": self.seed, "degradation": dataclasses.asdict(self.degradation)}

    def describe(self) -> str:
        """One phrase for the LQ note of a result."""
        if self.mild is None:
            return "Real-ESRGAN second-order degradation"
        m = self.mild
        return (f"mild degradation (Gaussian blur sigma {m.blur_sigma[0]}-{m.blur_sigma[1]}, area/bicubic x4 down, "
                f"noise sigma {m.noise_range[0]:g}-{m.noise_range[1]:g}, JPEG {m.jpeg_range[0]:g}-{m.jpeg_range[1]:g})")


@dataclass(frozen=True)
class Benchmark:
    """One test set of the paper (or of the usual SR tables), described once.

    Args:
        name: canonical name, as the paper tables print it.
        task: the VmambaIR preset evaluated on it.
        scale: LQ -> GT upscaling factor (1 for deraining).
        counts: accepted image counts, the usual one first (Test100: the 98 pairs MSPFN/MPRNet/Restormer use).
        degradation: ``bicubic`` (LQ may be regenerated from GT), ``given`` (LQ files are the test),
            ``synthetic`` (LQ generated once from another set's HR by ``synthetic`` and cached) or
            ``none`` (real inputs without ground truth, scored without reference).
        layouts: accepted sub-folder layouts, tried in order (for ``none``, ``gt`` names the inputs' folder).
        folders: folder names the set may have under a data root (matched case-insensitively); also aliases.
        convention: default metric convention.
        names: expected keys (file stems after pairing normalisation), where the set has fixed names.
        lpips_reported: the paper reports LPIPS on it (Tables 1-2), so LPIPS is on by default.
        about: one line on where it comes from.
        synthetic: how the LQ is made, for (and only for) ``degradation == "synthetic"``.
    """

    name: str
    task: Task
    scale: int
    counts: tuple[int, ...]
    degradation: Degradation
    layouts: tuple[FolderLayout, ...]
    folders: tuple[str, ...]
    convention: MetricConvention
    names: tuple[str, ...] | None = None
    lpips_reported: bool = False
    about: str = field(default="", compare=False)
    synthetic: SyntheticRecipe | None = None

    def __post_init__(self) -> None:
        if (self.degradation == "synthetic") != (self.synthetic is not None):
            raise ValueError(f"{self.name}: a synthetic recipe goes with degradation 'synthetic', and only there")

    @property
    def count(self) -> int:
        return self.counts[0]

    def default_lq_source(self) -> LqSource:
        return "hr" if self.degradation == "bicubic" else "files"


def _sr(name: str, count: int, about: str, *, folders: tuple[str, ...] = (), names: tuple[str, ...] | None = None,
        lpips: bool = True, layouts: tuple[FolderLayout, ...] = _BICUBIC_LAYOUTS) -> Benchmark:
    return Benchmark(name, "sisr", 4, (count,), "bicubic", layouts, (name, *folders), SR_CONVENTION, names, lpips,
                     about)


def _real(name: str, layout: FolderLayout, about: str, folders: tuple[str, ...]) -> Benchmark:
    return Benchmark(name, "realsr", 4, (100,), "given", (layout, *_PAIRED_LAYOUTS), (name, *folders),
                     SR_CONVENTION, None, True, about)


def _rain(name: str, counts: tuple[int, ...], about: str, folders: tuple[str, ...] = ()) -> Benchmark:
    return Benchmark(name, "derain", 1, counts, "given", _DERAIN_LAYOUTS, (name, *folders), DERAIN_CONVENTION,
                     None, False, about)


_ALL = (
    _sr("Set5", 5, "Bevilacqua et al. 2012", names=("baby", "bird", "butterfly", "head", "woman"), lpips=False),
    _sr("Set14", 14, "Zeyde et al. 2010 (bridge is greyscale; 4 HR sides are not multiples of 4)", names=(
        "baboon", "barbara", "bridge", "coastguard", "comic", "face", "flowers", "foreman", "lenna", "man",
        "monarch", "pepper", "ppt3", "zebra")),
    _sr("BSD100", 100, "Berkeley segmentation test images (Martin et al. 2001)", folders=("B100", "BSDS100"),
        lpips=False),
    _sr("Urban100", 100, "Huang et al. 2015"),
    _sr("Manga109", 109, "Matsui et al. 2017 (academic use only)"),
    _sr("General100", 100, "Dong et al. 2016 (FSRCNN)", folders=("General-100",)),
    _sr("DIV2K100", 100, "DIV2K validation images 0801-0900 (Agustsson & Timofte 2017)",
        folders=("DIV2K_valid", "DIV2K-valid", "DIV2K_val", "DIV2K"), names=tuple(str(i) for i in range(801, 901)),
        layouts=_DIV2K_LAYOUTS),
    _real("NTIRE2020-Track1", FolderLayout("track1-valid-gt", "track1-valid-input"),
          "NTIRE 2020 real-world SR challenge, track 1 validation (Lugmayr et al.)",
          ("NTIRE2020", "NTIRE2020_Track1", "NTIRE2020-RWSR")),
    _real("AIM2019", FolderLayout("valid-gt-clean", "valid-input-noisy"),
          "AIM 2019 real-world SR challenge validation (Lugmayr et al.)", ("AIM19", "AIM-RWSR", "AIM2019-RWSR")),
    Benchmark("BSD100-realesrgan", "realsr", 4, (100,), "synthetic", _BICUBIC_LAYOUTS, ("BSD100-realesrgan",),
              SR_CONVENTION, None, False, "BSD100 HR degraded once by the realsr pipeline (fixed seeds), cached",
              SyntheticRecipe(source="BSD100", seed=2026)),
    # The light end: what most phone and web photos need (vmambair_core.data.degrade.mild).
    Benchmark("BSD100-mild", "realsr", 4, (100,), "synthetic", _BICUBIC_LAYOUTS, ("BSD100-mild",),
              SR_CONVENTION, None, False, "BSD100 HR with light blur, x4 down, light noise and JPEG 70-95 "
              "(fixed seeds), cached", SyntheticRecipe(source="BSD100", seed=2027, mild=MildConfig())),
    Benchmark("RealSRSet", "realsr", 4, (20,), "none", (FolderLayout("input"), FolderLayout(".")), ("RealSRSet",),
              SR_CONVENTION, ("Lincoln", "building", "butterfly", "butterfly2", "chip", "comic1", "comic2", "comic3",
                              "computer", "dog", "dped_crop00061", "foreman", "frog", "oldphoto2", "oldphoto3",
                              "oldphoto6", "painting", "pattern", "ppt3", "tiger"), False,
              "20 real low-resolution photos without ground truth (BSRGAN, Zhang et al. 2021)"),
    _rain("Rain100L", (100,), "Yang et al. 2017 (JORDER), light rain", ("Rain100L_test", "R100L")),
    _rain("Rain100H", (100,), "Yang et al. 2017 (JORDER), heavy rain", ("Rain100H_test", "R100H")),
    _rain("Test100", (98, 100), "Zhang et al. 2019; 98 pairs in the MSPFN/MPRNet/Restormer copy"),
    _rain("Test1200", (1200,), "Zhang & Patel 2018 (DID-MDN test set)"),
    _rain("Test2800", (2800,), "Fu et al. 2017 (Rain14000 test split)"),
)
BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in _ALL}


def get_benchmark(name: str) -> Benchmark:
    """A benchmark by name or alias (``B100``, ``AIM19``), case-insensitive."""
    want = name.strip().lower()
    for bench in BENCHMARKS.values():
        if want in (f.lower() for f in bench.folders):
            return bench
    raise ConfigError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")


def resolve_data_root(path: str | os.PathLike[str] | None) -> Path:
    """``path``, else ``$VMAMBAIR_DATA_ROOT``; it must be an existing folder."""
    raw = path if path is not None else os.environ.get(ENV_DATA_ROOT) or None
    if raw is None:
        raise ConfigError(
            f"no data root: pass --data-root DIR or set {ENV_DATA_ROOT}=DIR (the folder holding Set5/, ...)"
        )
    root = Path(raw).expanduser()
    if not root.is_dir():
        raise InputError(f"data root {root} is not a folder")
    return root


def locate_benchmark(bench: Benchmark, root: Path) -> Path:
    """The set folder under ``root``: ``root/<name>`` or ``root/<group>/<name>`` (``sr``, ``derain``, ...)."""
    wanted = {f.lower() for f in bench.folders}
    if root.name.lower() in wanted:
        return root
    searched = []
    for group in _GROUPS:
        base = root / group if group else root
        if not base.is_dir():
            continue
        searched.append(str(base))
        for entry in sorted(base.iterdir()):
            if entry.is_dir() and entry.name.lower() in wanted:
                return entry
    present = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    raise InputError(
        f"benchmark {bench.name} not found: no folder named {' / '.join(bench.folders)} in {', '.join(searched)}. "
        f"Folders in {root}: {', '.join(present) or 'none'}. Point --data-root at the folder that holds it."
    )


@dataclass(frozen=True)
class EvalSet:
    """Resolved test pairs plus how to score them; what :func:`~vmambair_core.evaluate.runner.evaluate` takes.

    ``lq_from_gt``: every LQ is MATLAB bicubic ``1/scale`` of the mod-cropped GT (``pair.lq`` is None).
    ``reference``: False for inputs without ground truth; each pair's ``lq`` is the input and ``gt`` is
    the same file (it names the output), and outputs are scored without reference.
    """

    name: str
    task: Task | None
    scale: int
    pairs: tuple[ImagePair, ...]
    convention: MetricConvention
    lq_from_gt: bool
    location: Path
    layout: str
    benchmark: Benchmark | None = None
    lq_note: str | None = None
    """How the LQ was made, when files are not simply given (synthetic sets)."""
    notes: tuple[str, ...] = ()
    """Things the user should hear before the scores (a generated cache, a checksum warning)."""
    reference: bool = True

    def describe_lq(self) -> str:
        if not self.reference:
            return "LQ from files, no ground truth"
        if self.lq_note:
            return self.lq_note
        if self.lq_from_gt:
            return f"LR = MATLAB bicubic x1/{self.scale} of HR mod-cropped to {self.scale}"
        return "LQ from files"

    def head(self, limit: int | None) -> EvalSet:
        """The first ``limit`` pairs (natural name order), for quick checks."""
        if limit is None:
            return self
        if limit < 1:
            raise ConfigError(f"--limit must be at least 1, got {limit}")
        return replace(self, pairs=self.pairs[:limit])

    def with_convention(self, convention: MetricConvention) -> EvalSet:
        return replace(self, convention=convention)


def _choose_layout(bench: Benchmark, folder: Path, lq_source: LqSource) -> FolderLayout:
    need_lq = lq_source == "files"
    for layout in bench.layouts:
        if need_lq and layout.lq is None:
            continue
        gt_dir = folder / layout.gt
        if not gt_dir.is_dir() or not list_images(gt_dir, layout.gt_pattern):
            continue
        if need_lq and not (folder / layout.lq).is_dir():  # type: ignore[operator]
            continue
        return layout
    accepted = "; ".join(lay.describe(need_lq) for lay in bench.layouts if lay.lq is not None or not need_lq)
    subdirs = sorted(p.name for p in folder.iterdir() if p.is_dir())
    raise InputError(
        f"{bench.name} at {folder}: no known layout with images. Accepted ({_wanted(bench, need_lq)}): "
        f"{accepted}. Sub-folders found: {', '.join(subdirs) or 'none'}."
    )


def _wanted(bench: Benchmark, need_lq: bool) -> str:
    if bench.degradation == "none":
        return "inputs, no ground truth"
    return "GT + LQ" if need_lq else "GT"


def load_files(bench: Benchmark | str, root: Path, *, lq_source: LqSource | None = None) -> EvalSet:
    """Find, pair and check one benchmark's files under ``root``; a missing or incomplete set is an ``InputError``.

    ``lq_source``: ``hr`` makes LR from HR (bicubic sets only; the default there), ``files`` reads the
    set's LQ folder (the default, and only choice, for sets whose LQ is given). A synthetic set has no
    LQ files of its own: :func:`vmambair_core.evaluate.loader.load_benchmark` makes them.
    """
    bench = get_benchmark(bench) if isinstance(bench, str) else bench
    if bench.synthetic is not None:
        if lq_source == "hr":
            raise ConfigError(f"{bench.name} has no bicubic recipe: its LQ is the synthetic degradation")
        raise ConfigError(f"{bench.name} is generated, not read from files: load it with load_benchmark")
    if bench.degradation == "none":
        if lq_source == "hr":
            raise ConfigError(f"{bench.name} has no ground truth to make LR from: its photos are the inputs")
        return _load_inputs(bench, root)
    source = lq_source or bench.default_lq_source()
    if source not in LQ_SOURCES:
        raise ConfigError(f"lq_source must be one of {LQ_SOURCES}, got {source!r}")
    if source == "hr" and bench.degradation != "bicubic":
        raise ConfigError(f"{bench.name} has no bicubic recipe: its LQ images are the test; use its LQ files")
    folder = locate_benchmark(bench, root)
    layout = _choose_layout(bench, folder, source)
    gt_dir = folder / layout.gt
    if source == "hr":
        pairing = Pairing(gt_pairs(gt_dir, layout.gt_pattern), (), ())
    else:
        pairing = pair_images(folder / layout.lq, gt_dir, lq_pattern=layout.lq_pattern,  # type: ignore[operator]
                              gt_pattern=layout.gt_pattern, scale=bench.scale)
    _check_complete(bench, folder, layout.describe(source == "files"), pairing)
    return EvalSet(
        name=bench.name, task=bench.task, scale=bench.scale, pairs=pairing.pairs, convention=bench.convention,
        lq_from_gt=source == "hr", location=folder, layout=layout.describe(source == "files"), benchmark=bench,
    )


def _input_pairs(folder: Path, pattern: str = "*") -> tuple[ImagePair, ...]:
    """The images of a folder without ground truth, as pairs whose LQ is the image (``gt`` too: its name)."""
    return tuple(ImagePair(p.key, p.gt, p.gt) for p in gt_pairs(folder, pattern))


def _load_inputs(bench: Benchmark, root: Path) -> EvalSet:
    folder = locate_benchmark(bench, root)
    layout = _choose_layout(bench, folder, "hr")  # only the inputs' folder is looked for
    pairs = _input_pairs(folder / layout.gt, layout.gt_pattern)
    where = f"{layout.describe(False)} (no ground truth)"
    _check_complete(bench, folder, where, Pairing(pairs, (), ()))
    return EvalSet(name=bench.name, task=bench.task, scale=bench.scale, pairs=pairs, convention=bench.convention,
                   lq_from_gt=False, location=folder, layout=where, benchmark=bench, reference=False)


def _check_complete(bench: Benchmark, folder: Path, layout: str, pairing: Pairing) -> None:
    problems = []
    pairs = pairing.pairs
    found = [p.key for p in pairs]
    if bench.names is not None:
        missing = [n for n in bench.names if n not in set(found)]
        extra = [k for k in found if k not in set(bench.names)]
        if missing:
            problems.append(f"missing: {name_list(missing)}")
        if extra:
            problems.append(f"not part of the set: {name_list(extra)}")
    problems += pairing.problems()
    if len(pairs) not in bench.counts or problems:
        want = " or ".join(map(str, bench.counts))
        detail = "; ".join(problems) or f"found: {name_list(found)}"
        raise InputError(
            f"{bench.name} at {folder} ({layout}) is incomplete: expected {want} images, found {len(pairs)} "
            f"complete pairs; {detail}."
        )


def custom_set(gt_dir: Path, lq_dir: Path | None, *, scale: int, convention: MetricConvention,
               task: Task | None = None) -> EvalSet:
    """A user's own pair of folders (``--lq``/``--gt``), or GT only (LR made by MATLAB bicubic 1/scale)."""
    for d in (gt_dir, lq_dir):
        if d is not None and not d.is_dir():
            raise InputError(f"{d} is not a folder")
    if lq_dir is None:
        pairs = gt_pairs(gt_dir)
    else:
        pairs = pair_images(lq_dir, gt_dir, scale=scale).complete(f"--lq {lq_dir} and --gt {gt_dir}")
    if not pairs:
        raise InputError(f"no images in {gt_dir}")
    if lq_dir is None:
        name = gt_dir.name
    elif lq_dir.resolve().parent == gt_dir.resolve().parent:  # Rain100H/rain + Rain100H/norain -> Rain100H
        name = gt_dir.resolve().parent.name
    else:
        name = f"{lq_dir.name}+{gt_dir.name}"
    return EvalSet(name=name, task=task, scale=scale, pairs=pairs, convention=convention, lq_from_gt=lq_dir is None,
                   location=gt_dir, layout="--gt only" if lq_dir is None else "--lq + --gt")


def input_set(lq_dir: Path, *, scale: int, task: Task | None = None) -> EvalSet:
    """A user's folder of inputs without ground truth (``--lq`` alone): outputs scored without reference."""
    if not lq_dir.is_dir():
        raise InputError(f"{lq_dir} is not a folder")
    pairs = _input_pairs(lq_dir)
    if not pairs:
        raise InputError(f"no images in {lq_dir}")
    return EvalSet(name=lq_dir.name, task=task, scale=scale, pairs=pairs, convention=SR_CONVENTION if scale > 1
                   else DERAIN_CONVENTION, lq_from_gt=False, location=lq_dir, layout="--lq only (no ground truth)",
                   reference=False)
