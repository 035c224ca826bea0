"""Deepen a trained VmambaIR weights file (more blocks per level, the new ones identity) for further training.

    python benchmarks/grow_weights.py realsr-lite-mix grown.safetensors --blocks 2
    vmambair train --task realsr --init grown.safetensors --model-dim 16 --model-blocks 2 ...

The output computes exactly what the input computes (vmambair_core.models.grow); training then grows the
new blocks. Written in fp32, with the block counts in its metadata so restore/eval/train read it as is.
"""

from __future__ import annotations

import argparse

from vmambair_core.errors import VmambairError
from vmambair_core.models.grow import grow, grown_config
from vmambair_core.train.export import export_weights
from vmambair_core.weights import load


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="registry name or weights file")
    ap.add_argument("output", help=".safetensors to write")
    ap.add_argument("--blocks", type=int, required=True, help="blocks per level (and refinement blocks)")
    ap.add_argument("--task", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        loaded = load(args.source, args.task)
        if loaded.config is None:
            raise VmambairError(f"{args.source} is not a VmambaIR weights file")
        cfg = grown_config(loaded.config, (args.blocks,) * 4, args.blocks)
        net = grow(loaded.net.float(), cfg, seed=args.seed)
        export_weights(net.state_dict(), cfg, loaded.task, args.output, extra={"vmambair.grown_from": loaded.origin})
    except VmambairError as exc:
        print(f"Error: {exc}")
        return 2
    print(f"wrote {args.output}: {sum(p.numel() for p in net.parameters()):,} parameters, blocks {list(cfg.num_blocks)} "
          f"+ {cfg.num_refinement_blocks} refinement, same outputs as {loaded.origin}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
