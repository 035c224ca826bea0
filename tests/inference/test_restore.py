"""Batch restoration core: planning, real files of every awkward kind, tiles, bad inputs, interrupted runs.

Outputs are read back with Pillow or OpenCV directly (never with our own reader) and compared with
references computed here: a network whose learned part is zeroed returns exactly the nearest-neighbour
x4 upscaling of its input, so every pixel of every written file has a known value.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from vmambair_core.errors import ConfigError, VmambairError, WeightsNotFoundError
from vmambair_core.inference import Restorer
from vmambair_core.inference.restore import (
    SKIP_DONE,
    SKIP_KEPT,
    RestoreJob,
    RestoreSettings,
    RestoreSummary,
    plan_restore,
    prepare_output_dir,
    restore_files,
)
from vmambair_core.inference.outscale import check_outscale, outscale_size, resize_planes
from vmambair_core.models import VmambaIR, build_model, tiny_config
from vmambair_core.weights import load, write_safetensors

CPU = torch.device("cpu")


def _conv_net(task: str = "realsr", *, zero_tail: bool = False, seed: int = 0) -> VmambaIR:
    """A scan-free (0 blocks), 2-channel network: the full data path at a fraction of the cost."""
    torch.manual_seed(seed)
    net = build_model(tiny_config(task, dim=2, blocks=0)).eval()
    if zero_tail:
        last = net.tail[1] if task != "derain" else net.output
        with torch.no_grad():
            last.weight.zero_()
            if last.bias is not None:
                last.bias.zero_()
    return net


def _png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)
    return path


def _crop_of(data_dir: Path, name: str, size: int = 40) -> np.ndarray:
    img = cv2.imread(str(data_dir / "real_sr/RealESRGAN_inputs/input" / name), cv2.IMREAD_UNCHANGED)
    return np.ascontiguousarray(img[:size, :size])


def _nearest4(a: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(a, 4, axis=0), 4, axis=1)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp")


# --------------------------------------------------------------------------- planning


def test_plan_names_mirrors_and_ignores(tmp_path: Path) -> None:
    src = tmp_path / "in"
    for rel in ("a.png", "B.JPG", "sub/c.webp", "sub/deep/d.tif", "notes.txt", ".hidden.png", "sub/.e.png"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(b"x")
    single = tmp_path / "single.bmp"
    single.write_bytes(b"x")
    out = tmp_path / "out"

    flat = plan_restore([src, single], out)
    assert [(j.source.relative_to(tmp_path).as_posix(), j.target.relative_to(out).as_posix()) for j in flat.jobs] == [
        ("in/B.JPG", "B.JPG"), ("in/a.png", "a.png"), ("single.bmp", "single.bmp"),
    ]
    assert [p.name for p in flat.ignored] == ["notes.txt"]

    deep = plan_restore([src], out, recursive=True, suffix="_x4", ext="PNG")
    assert [j.target.relative_to(out).as_posix() for j in deep.jobs] == [
        "B_x4.png", "a_x4.png", "sub/c_x4.png", "sub/deep/d_x4.png",
    ]


def test_plan_never_takes_its_own_outputs_as_inputs(tmp_path: Path) -> None:
    src = tmp_path / "in"
    for rel in ("a.png", "b.png", "a_x4.png", "out/old.png"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(b"x")
    # Output folder inside the input folder: never walked.
    inside = plan_restore([src], src / "out", recursive=True)
    assert sorted(j.source.name for j in inside.jobs) == ["a.png", "a_x4.png", "b.png"]
    # Outputs beside their inputs (a_x4.png is the output of a.png): not restored again.
    beside = plan_restore([src], src, suffix="_x4")
    assert sorted(j.source.name for j in beside.jobs) == ["a.png", "b.png"]
    assert [p.name for p in beside.ignored] == ["a_x4.png"]


def test_plan_refuses_collisions_and_replacing_inputs(tmp_path: Path) -> None:
    for rel in ("x/a.png", "y/a.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    with pytest.raises(ConfigError, match="would both be written to"):
        plan_restore([tmp_path / "x", tmp_path / "y"], tmp_path / "out")
    with pytest.raises(ConfigError, match="replace the input itself"):
        plan_restore([tmp_path / "x"], tmp_path / "x")
    with pytest.raises(ConfigError, match="no such file or folder"):
        plan_restore([tmp_path / "missing.png"], tmp_path / "out")
    with pytest.raises(ConfigError, match="unknown output extension"):
        plan_restore([tmp_path / "x"], tmp_path / "out", ext="gif")


def test_one_input_file_and_an_image_name_make_an_output_file(tmp_path: Path) -> None:
    single = tmp_path / "photo.jpg"
    single.write_bytes(b"x")
    plan = plan_restore([single], tmp_path / "res" / "result.PNG")
    assert [(j.source, j.target) for j in plan.jobs] == [(single, tmp_path / "res" / "result.PNG")]
    assert plan.output_dir == tmp_path / "res" and plan.destination == tmp_path / "res" / "result.PNG"
    assert plan_restore([single], tmp_path / "r.webp", ext="webp").jobs[0].target == tmp_path / "r.webp"
    # A folder otherwise: an existing folder with that name, two inputs, a folder input, no image extension.
    (tmp_path / "folder.png").mkdir()
    assert plan_restore([single], tmp_path / "folder.png").jobs[0].target == tmp_path / "folder.png" / "photo.jpg"
    other = tmp_path / "other.png"
    other.write_bytes(b"x")
    two = plan_restore([single, other], tmp_path / "two.png")
    assert plan_restore([single], tmp_path / "out").output_file is None and two.output_file is None
    assert {j.target for j in two.jobs} == {tmp_path / "two.png" / "photo.jpg", tmp_path / "two.png" / "other.png"}
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(b"x")
    assert plan_restore([tmp_path / "in"], tmp_path / "x.png").jobs[0].target == tmp_path / "x.png" / "a.png"
    for extra in ({"suffix": "_x4"}, {"ext": "jpg"}):
        with pytest.raises(ConfigError, match="names the output file"):
            plan_restore([single], tmp_path / "result.png", **extra)
    with pytest.raises(ConfigError, match="replace the input itself"):
        plan_restore([single], single)


def test_output_dir_must_be_writable(tmp_path: Path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(VmambairError, match="is an existing file"):
        prepare_output_dir(a_file)
    with pytest.raises(VmambairError, match="cannot be written"):
        prepare_output_dir(a_file / "out")
    assert prepare_output_dir(tmp_path / "new" / "deeper").is_dir()
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- real files


@pytest.mark.slow
def test_every_realesrgan_input_keeps_mode_depth_alpha_and_size(tmp_path: Path, data_dir: Path) -> None:
    folder = data_dir / "real_sr/RealESRGAN_inputs/input"
    plan = plan_restore([folder], tmp_path / "out")
    assert len(plan.jobs) == 9
    restorer = Restorer(_conv_net(zero_tail=True), CPU)
    results = list(restore_files(plan.jobs, restorer))
    assert [r.status for r in results] == ["ok"] * 9, [r.reason for r in results]

    for job, result in zip(plan.jobs, results, strict=True):
        name = job.source.name
        written = cv2.imread(str(job.target), cv2.IMREAD_UNCHANGED)
        original = cv2.imread(str(job.source), cv2.IMREAD_UNCHANGED)
        assert written.dtype == original.dtype, name  # 16-bit stays 16-bit
        assert written.shape[:2] == (4 * original.shape[0], 4 * original.shape[1]), name
        assert written.ndim == original.ndim and written.shape[2:] == original.shape[2:], name  # grey stays grey
        assert result.output_size == (written.shape[1], written.shape[0])
        if job.source.suffix == ".png":
            if original.ndim == 3 and original.shape[2] == 4:
                alpha = original[..., 3].astype(np.float32) / np.iinfo(original.dtype).max
                up = np.clip(cv2.resize(alpha, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC), 0, 1)
                expected_alpha = np.rint(up * np.iinfo(original.dtype).max)
                assert np.abs(written[..., 3].astype(np.float64) - expected_alpha).max() <= 1, name
                assert not np.array_equal(written[..., 3], _nearest4(original[..., 3])), "alpha went through the net"
                original, written = original[..., :3], written[..., :3]
            # The zero-tail network is exactly nearest x4: lossless formats give back every sample.
            np.testing.assert_array_equal(written, _nearest4(original), err_msg=name)
        else:
            # JPEG: compare with Pillow's decode (EXIF orientation applied) after a q95 re-encode.
            with Image.open(job.source) as im:
                ref = np.asarray(ImageOps.exif_transpose(im)).astype(np.float64)
            with Image.open(job.target) as im:
                assert im.mode == ("L" if original.ndim == 2 else "RGB"), name
                got = np.asarray(im).astype(np.float64)
            assert np.abs(got - _nearest4(ref)).mean() < 2.0, name

    with Image.open(tmp_path / "out/tree_alpha_16bit.png") as im:
        assert im.mode == "RGBA"
    with Image.open(tmp_path / "out/children-alpha.png") as im:
        assert im.mode == "RGBA"
    with Image.open(tmp_path / "out/00017_gray.png") as im:
        assert im.mode == "L"


def test_derain_keeps_size_and_grey_alpha(tmp_path: Path, data_dir: Path) -> None:
    grey = _crop_of(data_dir, "00017_gray.png", 24)
    alpha = np.linspace(0, 255, grey.size).reshape(grey.shape).astype(np.uint8)
    la = tmp_path / "in/la.png"
    la.parent.mkdir()
    Image.fromarray(np.stack([grey, alpha], axis=-1), mode="LA").save(la)
    plan = plan_restore([la], tmp_path / "out")
    (result,) = restore_files(plan.jobs, Restorer(_conv_net("derain", zero_tail=True), CPU))
    assert result.status == "ok" and result.mode == "LA"
    with Image.open(plan.jobs[0].target) as im:
        assert im.mode == "LA" and im.size == (24, 24)
        np.testing.assert_array_equal(np.asarray(im), np.stack([grey, alpha], axis=-1))


# --------------------------------------------------------------------------- tiles


@pytest.mark.parametrize("task", ["realsr", "derain"])
def test_tiled_equals_whole_image_for_a_local_network(tmp_path: Path, data_dir: Path, task: str) -> None:
    """Through the whole read -> tiles -> write path: a convolution-only net gives the same file."""
    src = _png(tmp_path / "in/photo.png", _crop_of(data_dir, "OST_009.png", 112)[:, :96])
    net = _conv_net(task, seed=3)
    whole = list(restore_files(plan_restore([src], tmp_path / "whole").jobs, Restorer(net, CPU)))
    tiles = Restorer(net, CPU, tile=48, overlap=24, tiles_per_batch=2)
    tiled = list(restore_files(plan_restore([src], tmp_path / "tiled").jobs, tiles))
    assert whole[0].tile is None and tiled[0].tile == 48
    a = cv2.imread(str(tmp_path / "whole/photo.png")).astype(int)
    b = cv2.imread(str(tmp_path / "tiled/photo.png")).astype(int)
    scale = 4 if task == "realsr" else 1
    assert a.shape == b.shape == (112 * scale, 96 * scale, 3)
    assert np.abs(a - b).max() <= 1
    assert np.abs(a - cv2.resize(cv2.imread(str(src)), None, fx=scale, fy=scale,
                                 interpolation=cv2.INTER_NEAREST)).mean() > 5  # the network did something


@pytest.mark.slow
def test_tiles_of_the_scan_network_match_and_show_no_seams(tmp_path: Path, data_dir: Path) -> None:
    """The real (global) design: tiles see less context, so outputs differ a little, but never by a step.

    Compared at input resolution (4x4 means of the x4 output): a random network's pixel-shuffle tail turns
    any change of context into a 4-periodic pattern inside each 4x4 block, which is not a seam.
    """
    src = _png(tmp_path / "in/photo.png", _crop_of(data_dir, "OST_009.png", 280)[100:180, 200:280])
    torch.manual_seed(0)
    net = build_model(tiny_config("realsr", dim=4, blocks=1), scan_backend="reference").eval()
    list(restore_files(plan_restore([src], tmp_path / "whole").jobs, Restorer(net, CPU)))
    (tiled,) = restore_files(plan_restore([src], tmp_path / "tiled").jobs, Restorer(net, CPU, tile=48, overlap=16))
    assert tiled.tile == 48

    def blocks(path: Path) -> np.ndarray:  # 4x4 means, grey levels
        y = cv2.imread(str(path)).astype(np.float64)
        return y.reshape(80, 4, 80, 4, 3).mean(axis=(1, 3))

    whole, tiles = blocks(tmp_path / "whole/photo.png"), blocks(tmp_path / "tiled/photo.png")
    source = cv2.imread(str(src)).astype(np.float64)
    inner = (slice(4, -4), slice(4, -4))
    assert np.abs(whole - source)[inner].mean() > 10  # the network changes the picture far more than tiling
    assert np.abs(tiles - whole)[inner].mean() < 1.5

    # Tiles start at input pixels 0 and 32 on both axes; their 16-pixel overlap is cross-faded over
    # input pixels 36..44. A seam is a step in the mean difference across that band.
    def worst_step(diff: np.ndarray) -> float:
        cols, rows = diff.mean(axis=(0, 2))[28:52], diff.mean(axis=(1, 2))[28:52]
        return float(max(np.abs(np.diff(cols)).max(), np.abs(np.diff(rows)).max()))

    assert worst_step(tiles - whole) < 1.5
    seam = tiles.copy()
    seam[:, 40:] += 3.0  # a 3-grey-level seam, as the same measure sees it
    assert worst_step(seam - whole) > 2.0


# --------------------------------------------------------------------------- bad inputs, existing outputs


def _bad_files(folder: Path, data_dir: Path) -> list[str]:
    real = data_dir / "real_sr/RealESRGAN_inputs/input"
    png = (real / "OST_009.png").read_bytes()
    jpg = (real / "0014.jpg").read_bytes()
    (folder / "truncated.png").write_bytes(png[: len(png) // 2])
    (folder / "truncated.jpg").write_bytes(jpg[: len(jpg) * 2 // 3])
    (folder / "text.png").write_text("not an image at all\n")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "noise.webp").write_bytes(np.random.default_rng(0).bytes(2000))
    return ["empty.jpg", "noise.webp", "text.png", "truncated.jpg", "truncated.png"]


def test_bad_files_fail_alone_and_leave_nothing(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "in"
    _png(src / "good1.png", _crop_of(data_dir, "OST_009.png", 24))
    _png(src / "zgood2.png", _crop_of(data_dir, "00003.png", 16))
    bad = _bad_files(src, data_dir)
    out = tmp_path / "out"
    results = list(restore_files(plan_restore([src], out).jobs, Restorer(_conv_net(), CPU)))
    by_name = {r.source.name: r for r in results}
    assert sorted(n for n, r in by_name.items() if r.status == "failed") == bad
    assert by_name["good1.png"].status == by_name["zgood2.png"].status == "ok"
    assert all(by_name[n].reason and n in by_name[n].reason for n in bad)
    assert "empty file" in by_name["empty.jpg"].reason and "truncated JPEG" in by_name["truncated.jpg"].reason
    assert sorted(p.name for p in out.iterdir()) == ["good1.png", "zgood2.png"]
    summary = RestoreSummary.of(results)
    assert (summary.ok, summary.failed, summary.skipped) == (2, 5, 0)
    assert summary.megapixels == pytest.approx((24 * 24 + 16 * 16) / 1e6)


def test_formats_that_cannot_hold_the_image_fail_that_image_only(tmp_path: Path, data_dir: Path) -> None:
    deep = _crop_of(data_dir, "tree_alpha_16bit.png", 16)
    assert deep.dtype == np.uint16
    _png(tmp_path / "in/deep.png", deep)
    _png(tmp_path / "in/rgb.png", _crop_of(data_dir, "OST_009.png", 16))
    results = list(restore_files(plan_restore([tmp_path / "in"], tmp_path / "out", ext="jpg").jobs,
                                 Restorer(_conv_net(), CPU)))
    assert [(r.source.name, r.status) for r in results] == [("deep.png", "failed"), ("rgb.png", "ok")]
    assert "cannot store its 16-bit" in results[0].reason and "as .png or .tif (--ext" in results[0].reason
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["rgb.jpg"]


def test_an_image_the_output_format_cannot_hold_is_refused_before_the_network(tmp_path: Path, data_dir: Path) -> None:
    _png(tmp_path / "in/a.png", _crop_of(data_dir, "children-alpha.png", 16))
    _png(tmp_path / "in/b.png", _crop_of(data_dir, "OST_009.png", 16))
    restorer, calls = Restorer(_conv_net(), CPU), []
    real = restorer.net.forward
    restorer.net.forward = lambda x: calls.append(x.shape) or real(x)  # type: ignore[method-assign]
    jobs = plan_restore([tmp_path / "in"], tmp_path / "out", ext="jpg").jobs
    results = list(restore_files(jobs, restorer))
    assert [(r.source.name, r.status) for r in results] == [("a.png", "failed"), ("b.png", "ok")]
    assert len(calls) == 1  # only b.png reached the network
    assert "cannot store its alpha" in results[0].reason and ".png, .webp or .tif" in results[0].reason
    assert results[0].mode == "RGBA" and results[0].seconds < 5


def test_existing_outputs_kept_skipped_or_overwritten(tmp_path: Path, data_dir: Path) -> None:
    src = _png(tmp_path / "in/a.png", _crop_of(data_dir, "OST_009.png", 16))
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"previous")
    jobs = plan_restore([src], out).jobs
    restorer = Restorer(_conv_net(), CPU)
    (kept,) = restore_files(jobs, restorer)
    assert (kept.status, kept.reason) == ("skipped", SKIP_KEPT) and (out / "a.png").read_bytes() == b"previous"
    (done,) = restore_files(jobs, restorer, RestoreSettings(skip_existing=True))
    assert (done.status, done.reason) == ("skipped", SKIP_DONE) and (out / "a.png").read_bytes() == b"previous"
    (replaced,) = restore_files(jobs, restorer, RestoreSettings(overwrite=True))
    assert replaced.status == "ok" and cv2.imread(str(out / "a.png")).shape == (64, 64, 3)
    with pytest.raises(ConfigError, match="contradict"):
        RestoreSettings(skip_existing=True, overwrite=True)


def test_too_large_and_out_of_memory_fail_per_image(tmp_path: Path, data_dir: Path) -> None:
    src = _png(tmp_path / "in/a.png", _crop_of(data_dir, "OST_009.png", 32))
    (big,) = restore_files(plan_restore([src], tmp_path / "o1").jobs, Restorer(_conv_net(), CPU),
                           RestoreSettings(max_pixels=1000))
    assert big.status == "failed" and "exceeds the limit of 1000 (--max-pixels" in big.reason

    class AlwaysOOM(torch.nn.Module):
        scale = 4

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")

    (oom,) = restore_files(plan_restore([src], tmp_path / "o2").jobs, Restorer(AlwaysOOM(), CPU, overlap=4, min_tile=8))
    assert oom.status == "failed" and "out of memory" in oom.reason and oom.input_size == (32, 32)
    assert not (tmp_path / "o2/a.png").exists()


def test_interrupted_write_leaves_no_file_and_skip_existing_completes(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in"
    for k, name in enumerate(("OST_009.png", "00003.png", "children-alpha.png")):
        _png(src / f"{k}.png", _crop_of(data_dir, name, 16 + 8 * k))
    out = tmp_path / "out"
    jobs = plan_restore([src], out).jobs
    restorer = Restorer(_conv_net(), CPU)

    import vmambair_core.data.io as io_module

    real_replace, calls = os.replace, []

    def interrupt_second_rename(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:  # the second image is fully in its temporary file, not yet renamed
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(io_module.os, "replace", interrupt_second_rename)
    seen = []
    with pytest.raises(KeyboardInterrupt):
        for result in restore_files(jobs, restorer):
            seen.append(result)
    monkeypatch.setattr(io_module.os, "replace", real_replace)
    assert [r.status for r in seen] == ["ok"]
    assert sorted(p.name for p in out.iterdir()) == ["0.png"]  # no partial 1.png, no temp file
    first = (out / "0.png").read_bytes()

    again = list(restore_files(jobs, restorer, RestoreSettings(skip_existing=True)))
    assert [r.status for r in again] == ["skipped", "ok", "ok"]
    assert (out / "0.png").read_bytes() == first
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png", "2.png"]
    assert cv2.imread(str(out / "2.png"), cv2.IMREAD_UNCHANGED).shape == (128, 128, 4)


def test_progress_callbacks(tmp_path: Path, data_dir: Path) -> None:
    src = _png(tmp_path / "in/a.png", _crop_of(data_dir, "OST_009.png", 40))
    starts, ticks = [], []
    restorer = Restorer(_conv_net(), CPU, tile=24, overlap=8)
    list(restore_files(plan_restore([src], tmp_path / "out").jobs, restorer,
                       on_start=lambda i, job: starts.append((i, job.source.name)),
                       on_tile=lambda done, total: ticks.append((done, total))))
    assert starts == [(0, "a.png")]
    assert ticks == [(k, 4) for k in range(1, 5)]  # 40 px padded to 40 -> 2 x 2 tiles of 24


# --------------------------------------------------------------------------- the network


def test_load_takes_a_config_and_never_random_weights(tmp_path: Path) -> None:
    cfg = tiny_config("realsr", dim=2, blocks=0)
    torch.manual_seed(1)
    ref = build_model(cfg)
    path = write_safetensors(ref.state_dict(), tmp_path / "w.safetensors", {"vmambair.preset": cfg.name})
    model = load(path, cfg)
    net, origin = model.net, model.origin
    assert "w.safetensors" in origin and "[local]" in origin
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), ref.state_dict().values(), strict=True))
    with pytest.raises(WeightsNotFoundError, match="pass --weights"):
        load(None, cfg)
    with pytest.raises(ConfigError, match="unknown task"):
        load(path, "upscale")


def test_job_targets_are_where_results_say(tmp_path: Path, data_dir: Path) -> None:
    src = _png(tmp_path / "in/ü ñ 猫.png", _crop_of(data_dir, "OST_009.png", 16))
    job = RestoreJob(src, tmp_path / "out/sub dir/結果.png")
    (result,) = restore_files([job], Restorer(_conv_net(), CPU))
    assert result.status == "ok" and result.target == job.target
    assert Image.open(job.target).size == (64, 64)


# --------------------------------------------------------------------------- --outscale


def test_outscale_sizes_and_refusals() -> None:
    assert outscale_size(10, 7, 2) == (20, 14)
    assert outscale_size(10, 7, 3.5) == (35, 24)  # 24.5 rounds to even
    assert outscale_size(3, 3, 0.1) == (1, 1)
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="--outscale must be a number > 0"):
            check_outscale(bad)
        with pytest.raises(ConfigError, match="--outscale"):
            RestoreSettings(outscale=bad)
    assert check_outscale(None) is None and check_outscale(0.5) == 0.5


def test_resize_planes_averages_down_and_keeps_flat_areas_up() -> None:
    rng = np.random.default_rng(0)
    img = rng.random((8, 12, 3), dtype=np.float32)
    blocks = img.reshape(4, 2, 6, 2, 3).mean(axis=(1, 3))  # the area filter at an exact 1/2
    np.testing.assert_allclose(resize_planes(img, (4, 6)), blocks, atol=1e-6)
    grey = rng.random((8, 12), dtype=np.float32)
    assert resize_planes(grey, (4, 6)).shape == (4, 6)
    flat = np.full((6, 6, 3), 0.25, np.float32)
    np.testing.assert_allclose(resize_planes(flat, (21, 21)), 0.25, atol=1e-5)
    edge = np.zeros((8, 8), np.float32)
    edge[:, 4:] = 1.0  # Lanczos rings past [0, 1] at a hard edge: clipped
    up = resize_planes(edge, (32, 32))
    assert up.min() >= 0.0 and up.max() <= 1.0 and up[:, :12].max() < 0.05 and up[:, 20:].min() > 0.95


@pytest.mark.parametrize("name", ["children-alpha.png", "tree_alpha_16bit.png"])
def test_outscale_resizes_the_network_output_with_alpha_and_depth(tmp_path: Path, data_dir: Path, name: str) -> None:
    src = _png(tmp_path / "in" / name, _crop_of(data_dir, name, 16))
    net = _conv_net()
    (full,) = restore_files([RestoreJob(src, tmp_path / "x4.png")], Restorer(net, CPU))
    (half,) = restore_files([RestoreJob(src, tmp_path / "x2.png")], Restorer(net, CPU), RestoreSettings(outscale=2))
    assert full.output_size == (64, 64) and half.output_size == (32, 32) and half.bit_depth == full.bit_depth
    x4 = cv2.imread(str(tmp_path / "x4.png"), cv2.IMREAD_UNCHANGED).astype(np.float64)
    x2 = cv2.imread(str(tmp_path / "x2.png"), cv2.IMREAD_UNCHANGED).astype(np.float64)
    assert x2.shape == (32, 32, 4)
    peak = 255.0 if "16bit" not in name else 65535.0
    colour = x4[..., :3].reshape(32, 2, 32, 2, 3).mean(axis=(1, 3))  # 2x2 means of the x4 result
    np.testing.assert_allclose(x2[..., :3] / peak, colour / peak, atol=1.5 / 255)
    assert abs(x2[..., 3].mean() - x4[..., 3].mean()) / peak < 0.02  # alpha follows to the same size


def test_outscale_enlarges_derain(tmp_path: Path, data_dir: Path) -> None:
    src = _png(tmp_path / "in/a.png", _crop_of(data_dir, "OST_009.png", 16))
    (result,) = restore_files([RestoreJob(src, tmp_path / "a.png")], Restorer(_conv_net("derain"), CPU),
                              RestoreSettings(outscale=2.5))
    assert result.status == "ok" and result.output_size == (40, 40)
    assert cv2.imread(str(tmp_path / "a.png")).shape == (40, 40, 3)


# --------------------------------------------------------------------------- EXIF


def _camera_jpeg(path: Path, data_dir: Path, orientation: int) -> Path:
    """A real photo crop saved as a camera would: EXIF with make, model, date and an orientation."""
    crop = _crop_of(data_dir, "OST_009.png", 24)[:16]  # 24 wide, 16 high: the orientation is visible in the size
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132], exif[0x0112] = "Acme", "Model 7", "2024:05:06 07:08:09", orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(crop[..., ::-1]).save(path, exif=exif.tobytes(), quality=95)
    return path


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tif"])
def test_exif_is_kept_with_the_orientation_reset(tmp_path: Path, data_dir: Path, ext: str) -> None:
    src = _camera_jpeg(tmp_path / "in/cam.jpg", data_dir, orientation=6)  # 6: rotate 90 degrees clockwise to view
    (result,) = restore_files([RestoreJob(src, tmp_path / f"out{ext}")], Restorer(_conv_net(), CPU))
    assert result.status == "ok" and result.output_size == (64, 96)  # rotated upright: 16 wide, 24 high, x4
    with Image.open(tmp_path / f"out{ext}") as im:
        tags = im.getexif()
        assert im.size == (64, 96)
    assert (tags[0x010F], tags[0x0110], tags[0x0132]) == ("Acme", "Model 7", "2024:05:06 07:08:09")
    assert tags[0x0112] == 1  # already applied to the pixels: a viewer must not rotate again


def test_strip_metadata_drops_exif_and_icc(tmp_path: Path, data_dir: Path) -> None:
    src = _camera_jpeg(tmp_path / "in/cam.jpg", data_dir, orientation=1)
    with Image.open(src) as im:
        profiled = tmp_path / "in/p.jpg"
        im.save(profiled, exif=im.getexif().tobytes(), icc_profile=_srgb_profile())
    jobs = [RestoreJob(profiled, tmp_path / "kept.png"), RestoreJob(profiled, tmp_path / "none.png")]
    restorer = Restorer(_conv_net(), CPU)
    list(restore_files(jobs[:1], restorer))
    list(restore_files(jobs[1:], restorer, RestoreSettings(strip_metadata=True)))
    with Image.open(tmp_path / "kept.png") as kept, Image.open(tmp_path / "none.png") as none:
        assert kept.getexif()[0x010F] == "Acme" and kept.info.get("icc_profile")
        assert len(none.getexif()) == 0 and not none.info.get("icc_profile")


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
