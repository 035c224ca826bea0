"""``load`` reads back what was saved: random small configs, every supported file layout (spandrel's
``assert_loads_correctly`` idea), the config either from the metadata or read off the tensor shapes."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from vmambair_core import CheckpointError
from vmambair_core.models import PRESETS, VmambaIR, VmambaIRConfig, build_model
from vmambair_core.weights import load, network_metadata, write_safetensors

from .same_network import assert_same_network


def random_config(rng: random.Random, family: str) -> VmambaIRConfig:
    """A small network of ``family``'s design: what a file's shapes can tell (all but ``fusion``) varies."""
    base = PRESETS[family]
    blocks = tuple(rng.randint(0, 2) for _ in range(4))
    if not any(blocks):  # a network without blocks has no scan: sisr and realsr would then be one network
        blocks = (1, *blocks[1:])
    conv = base.channel_scan == "conv"
    channels = rng.choice((1, 3))  # the heads add the (upsampled) input: as many channels out as in
    return replace(
        base, dim=rng.choice((2, 4, 6, 8)), num_blocks=blocks, num_refinement_blocks=rng.randint(0, 2),  # type: ignore[arg-type]
        ffn_expansion_factor=rng.choice((1.0, 1.5, 2.0, 2.66, 3.1)), d_state=rng.randint(1, 6),
        channel_inner=rng.randint(1, 4) if conv else 1, channel_dt_rank=rng.choice((None, 1, 3)) if conv else None,
        in_channels=channels, out_channels=channels, name=f"{family}-random",
    )


def _safetensors_with_metadata(net: VmambaIR, task: str, path: Path) -> Path:
    return write_safetensors(net.state_dict(), path.with_suffix(".safetensors"), network_metadata(net.config, task))


def _safetensors_bare(net: VmambaIR, task: str, path: Path) -> Path:
    return write_safetensors(net.state_dict(), path.with_suffix(".safetensors"))


def _pth_bare(net: VmambaIR, task: str, path: Path) -> Path:
    torch.save(net.state_dict(), path.with_suffix(".pth"))
    return path.with_suffix(".pth")


def _pth_official(net: VmambaIR, task: str, path: Path) -> Path:
    """The authors' BasicSR layout: EMA weights under ``params_ema``, DataParallel's ``module.`` prefix."""
    sd = {f"module.{k}": v for k, v in net.state_dict().items()}
    torch.save({"params": {k: torch.zeros_like(v) for k, v in sd.items()}, "params_ema": sd}, path.with_suffix(".pth"))
    return path.with_suffix(".pth")


Saver = Callable[[VmambaIR, str, Path], Path]
SAVERS: dict[str, Saver] = {
    "safetensors+metadata": _safetensors_with_metadata, "safetensors": _safetensors_bare, "pth": _pth_bare,
    "official": _pth_official,
}


def assert_same_config(got: VmambaIRConfig, want: VmambaIRConfig) -> None:
    """Equal configs, except that ``ffn_expansion_factor`` need only give the same EFFN widths (a file
    holds ``int(C * factor)``, not the factor)."""
    assert replace(got, ffn_expansion_factor=want.ffn_expansion_factor) == want
    for c in (*want.level_dims(), 2 * want.dim):
        assert int(c * got.ffn_expansion_factor) == int(c * want.ffn_expansion_factor)


@pytest.mark.parametrize("saver", list(SAVERS))
@pytest.mark.parametrize("seed", range(6))
def test_random_small_configs_load_back_from_every_layout(tmp_path: Path, seed: int, saver: str) -> None:
    rng = random.Random(seed)
    task = rng.choice(list(PRESETS))
    cfg = random_config(rng, task)
    torch.manual_seed(seed)
    net = build_model(cfg).eval()
    path = SAVERS[saver](net, task, tmp_path / "w")
    model = load(path)  # no task: the file alone says what it is
    assert model.config is not None and model.task == task and not model.net.training
    assert_same_config(model.config, cfg)
    assert_same_network(net, model.net, torch.rand(1, cfg.in_channels, 9, 11))


def test_shapes_of_the_presets_are_the_presets() -> None:
    from vmambair_core.weights import config_from_state_dict

    for name, preset in PRESETS.items():
        with torch.device("meta"):
            sd = build_model(preset).state_dict()
        assert config_from_state_dict(sd) == preset and config_from_state_dict(sd).name == name


def test_a_named_task_still_means_its_preset(tmp_path: Path) -> None:
    """With ``--task`` and no metadata the network is the preset (the authors' files): another size is refused."""
    cfg = random_config(random.Random(0), "realsr")
    path = _pth_official(build_model(cfg), "realsr", tmp_path / "w")
    with pytest.raises(CheckpointError, match="does not match preset 'realsr'"):
        load(path, "realsr")
    assert_same_config(load(path).config, cfg)


def test_block_indices_cannot_ask_for_a_huge_network(tmp_path: Path) -> None:
    """A key ``encoder_level1.999999.*`` would read as a million blocks: refused before anything is built."""
    cfg = random_config(random.Random(1), "sisr")
    sd = build_model(cfg).state_dict()
    sd["encoder_level1.999999.norm1.body.weight"] = sd["patch_embed.proj.weight"].new_zeros(cfg.dim)
    torch.save(sd, tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match="its tensor names describe a network of [0-9,]+ parameters but the file holds"):
        load(tmp_path / "w.pth")
