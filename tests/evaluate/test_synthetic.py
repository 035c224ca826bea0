"""The synthetic real-world benchmarks (``BSD100-realesrgan``, ``BSD100-mild``): deterministic LQ, cache,
checksum warning.

Fast tests use three BSD100 images, or a Set5-sourced twin of the benchmark (5 images); the full
100-image generation runs in the slow test only.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from vmambair_cli.app import app
from vmambair_core.data.resize import imresize
from vmambair_core.evaluate import BicubicPredictor, evaluate, get_benchmark, load_benchmark
from vmambair_core.evaluate import synthetic
from vmambair_core.evaluate.benchmarks import SR_CONVENTION, Benchmark, SyntheticRecipe
from vmambair_core.evaluate.synthetic import CACHE_ENV, generate_lq, pixels_sha256
from vmambair_core.metrics.psnr_ssim import psnr


def _bsd_pairs(data_dir: Path, n: int = 3):  # noqa: ANN202
    return load_benchmark("BSD100", data_dir, lq_source="hr").pairs[:n]


def _recipe(name: str) -> SyntheticRecipe:
    recipe = get_benchmark(name).synthetic
    assert recipe is not None
    return recipe


# Y-PSNR of the LQ against a clean MATLAB-bicubic x4 downscale of the HR: really degraded, yet the same
# picture; the mild set much closer to clean than the Real-ESRGAN one.
_LQ_PSNR = {"BSD100-realesrgan": (15.0, 33.0), "BSD100-mild": (26.0, 45.0)}


@pytest.mark.parametrize("name", sorted(_LQ_PSNR))
def test_generation_is_byte_identical_and_per_image(data_dir: Path, tmp_path: Path, name: str) -> None:
    pairs = _bsd_pairs(data_dir)
    recipe = _recipe(name)
    sha_a = generate_lq(pairs, recipe, tmp_path / "a")
    sha_b = generate_lq(pairs, recipe, tmp_path / "b")
    sha_c = generate_lq(pairs[2:], recipe, tmp_path / "c")  # alone: same pixels as within the set
    assert sha_a == sha_b
    for p in pairs:
        assert (tmp_path / "a" / f"{p.key}.png").read_bytes() == (tmp_path / "b" / f"{p.key}.png").read_bytes()
    last = pairs[2].key
    assert (tmp_path / "c" / f"{last}.png").read_bytes() == (tmp_path / "a" / f"{last}.png").read_bytes()
    assert sha_c != sha_a
    for p in pairs:
        hr = cv2.cvtColor(cv2.imread(str(p.gt)), cv2.COLOR_BGR2RGB)
        lq = cv2.cvtColor(cv2.imread(str(tmp_path / "a" / f"{p.key}.png")), cv2.COLOR_BGR2RGB)
        assert lq.shape == (hr.shape[0] // 4, hr.shape[1] // 4, 3)
        low, high = _LQ_PSNR[name]
        assert low < psnr(lq, imresize(hr, 0.25), crop_border=0, channel="y") < high
    # Another seed gives other pixels.
    other = generate_lq(pairs[:1], dataclasses.replace(recipe, seed=recipe.seed + 1), tmp_path / "d")
    assert other != generate_lq(pairs[:1], recipe, tmp_path / "e")


def test_mild_lq_is_milder_and_the_realesrgan_recipe_is_unchanged(data_dir: Path, tmp_path: Path) -> None:
    """The mild set is closer to a clean downscale on every image; adding it left the Real-ESRGAN recipe's
    manifest entry as it was (so existing caches stay valid)."""
    pairs = _bsd_pairs(data_dir)
    for name in ("BSD100-realesrgan", "BSD100-mild"):
        generate_lq(pairs, _recipe(name), tmp_path / name)
    for p in pairs:
        clean = imresize(cv2.cvtColor(cv2.imread(str(p.gt)), cv2.COLOR_BGR2RGB), 0.25)
        scores = {n: psnr(cv2.cvtColor(cv2.imread(str(tmp_path / n / f"{p.key}.png")), cv2.COLOR_BGR2RGB), clean,
                          crop_border=0, channel="y") for n in ("BSD100-realesrgan", "BSD100-mild")}
        assert scores["BSD100-mild"] > scores["BSD100-realesrgan"] + 2.0, (p.key, scores)
    assert set(_recipe("BSD100-realesrgan").to_dict()) == {"source", "seed", "degradation"}


def test_pixel_checksum_ignores_png_bytes_but_not_pixels() -> None:
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    a = pixels_sha256([("x", img), ("y", img)])
    assert a == pixels_sha256([("y", img), ("x", img)])  # name order, not call order
    flipped = img.copy()
    flipped[0, 0, 0] ^= 1
    assert a != pixels_sha256([("x", flipped), ("y", img)])


@pytest.fixture
def set5_twin(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Benchmark:
    """``BSD100-realesrgan`` re-pointed at Set5 (5 images), with a temporary cache."""
    bench = dataclasses.replace(get_benchmark("BSD100-realesrgan"), name="Set5-realesrgan", counts=(5,),
                                folders=("Set5-realesrgan",), synthetic=SyntheticRecipe(source="Set5", seed=7))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return bench


def test_cache_generated_once_reused_and_regenerated_when_stale(set5_twin: Benchmark, data_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_benchmark(set5_twin, data_dir)
    folder = synthetic.cache_dir(set5_twin.name)
    assert any("generated 5 LQ images" in n for n in first.notes)
    assert first.convention == SR_CONVENTION and first.task == "realsr" and not first.lq_from_gt
    assert [p.lq for p in first.pairs] == [folder / f"{k}.png" for k in ("baby", "bird", "butterfly", "head", "woman")]
    stamp = {p: p.stat().st_mtime_ns for p in folder.iterdir()}
    second = load_benchmark(set5_twin, data_dir)
    assert second.notes == () and {p: p.stat().st_mtime_ns for p in folder.iterdir()} == stamp
    sha = json.loads((folder / "MANIFEST.json").read_text())["lq_pixels_sha256"]
    assert sha[:12] in second.describe_lq()

    # An edited LQ file no longer matches the manifest: the cache is rebuilt, with the same pixels.
    baby = folder / "baby.png"
    original = baby.read_bytes()
    img = cv2.imread(str(baby))
    img[0, 0, 0] ^= 1
    cv2.imwrite(str(baby), img)
    third = load_benchmark(set5_twin, data_dir)
    assert any("generated" in n for n in third.notes) and baby.read_bytes() == original

    # A reference checksum that differs is a warning on the set, never an error.
    monkeypatch.setitem(synthetic.REFERENCE_SHA256, set5_twin.name, "0" * 64)
    warned = load_benchmark(set5_twin, data_dir)
    assert any(n.startswith("warning:") and "delete" in n for n in warned.notes)
    monkeypatch.setitem(synthetic.REFERENCE_SHA256, set5_twin.name, sha)
    assert "matches the reference" in load_benchmark(set5_twin, data_dir).describe_lq()

    result = evaluate(first, BicubicPredictor(4))
    assert len(result.scored) == 5 and 15.0 < (result.mean_psnr or 0.0) < 30.0
    assert result.convention.describe() == "Y (matlab), crop 4"


def test_synthetic_set_refuses_bicubic_lr(data_dir: Path) -> None:
    from vmambair_core.errors import ConfigError

    with pytest.raises(ConfigError, match="no bicubic recipe"):
        load_benchmark("BSD100-realesrgan", data_dir, lq_source="hr")


@pytest.mark.slow
def test_eval_cli_generates_bsd100_realesrgan_on_first_use(data_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    r = CliRunner().invoke(app, ["eval", "--bench", "BSD100-realesrgan", "--model", "bicubic", "--data-root",
                                 str(data_dir), "--limit", "2", "--json"])
    assert r.exit_code == 0, r.output
    assert "generated 100 LQ images" in r.stderr
    res = json.loads(r.stdout)["results"][0]
    assert res["benchmark"] == "BSD100-realesrgan" and res["images_scored"] == 2
    assert res["convention"]["text"] == "Y (matlab), crop 4" and "SHA-256" in res["lq"]
    # The reference was measured on another machine's floats: a mismatch is a warning, not a failure.
    assert ("matches the reference" in res["lq"]) != ("warning:" in r.stderr)
    assert len(list((tmp_path / "cache/benchmarks/BSD100-realesrgan").glob("*.png"))) == 100


def test_missing_source_set_names_both(tmp_path: Path) -> None:
    from vmambair_core.errors import InputError

    (tmp_path / "Set5").mkdir()
    message = "BSD100-realesrgan is made from BSD100's HR images: benchmark BSD100 not found"
    with pytest.raises(InputError, match=message):
        load_benchmark("BSD100-realesrgan", tmp_path)


def test_the_recipe_lives_on_the_record_and_the_imports_go_one_way() -> None:
    """``benchmarks`` (the records) never imports the generation code; only the loader joins them."""
    import ast
    import inspect

    from vmambair_core.evaluate import benchmarks, loader

    imported = {node.module for node in ast.walk(ast.parse(inspect.getsource(benchmarks)))
                if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"vmambair_core.evaluate.synthetic", "vmambair_core.evaluate.loader",
                           "vmambair_core.evaluate.runner"}
    assert loader.load_benchmark is load_benchmark
    synthetic_sets = {name for name, b in benchmarks.BENCHMARKS.items() if b.degradation == "synthetic"}
    assert synthetic_sets == {name for name, b in benchmarks.BENCHMARKS.items() if b.synthetic is not None}
    assert synthetic_sets >= {"BSD100-realesrgan", "BSD100-mild"}
    with pytest.raises(ValueError, match="synthetic recipe"):
        dataclasses.replace(get_benchmark("BSD100"), synthetic=SyntheticRecipe(source="Set5", seed=1))
