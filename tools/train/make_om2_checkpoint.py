#!/usr/bin/env python3
"""Write a randomly initialised Open-MAGVIT2-style video checkpoint.

The real Open-MAGVIT2 checkpoints cannot be downloaded here, so the converter is
tested on this stand-in: a model of the given configuration saved the way
Open-MAGVIT2 saves one (weights under `state_dict` with its key names, EMA
copies under `model_ema.<name without dots>`, plus discriminator and quantizer
entries that the converter must ignore). The raw and the EMA weights are two
different random initialisations, so a test can tell which one was converted.

    make_om2_checkpoint.py --config paper32 --seed 11 -o om2.ckpt [--ema-model ema.safetensors]

With --ema-model, the EMA weights are also exported as an ARG model file (the
file the converter must reproduce).
"""
import argparse
import sys

import torch

import argmodel as am
import convert_open_magvit2 as conv
import export
from make_parity import random_init


def build_checkpoint(cfg, seed):
    raw = am.ArgTokenizer(cfg)
    random_init(raw, seed)
    ema = am.ArgTokenizer(cfg)
    random_init(ema, seed + 1000)
    sd = {}
    for name, t in raw.state_dict().items():
        om2 = conv.to_open_magvit2_name(name)
        sd[om2] = t.clone()
    for name, t in ema.state_dict().items():
        sd[conv.ema_name(conv.to_open_magvit2_name(name))] = t.clone()
    sd["model_ema.decay"] = torch.tensor(0.999)
    sd["model_ema.num_updates"] = torch.tensor(1000, dtype=torch.int32)
    sd["loss.discriminator.blocks.0.weight"] = torch.zeros(3)
    sd["quantize.mask"] = torch.arange(18)
    return {"state_dict": sd, "global_step": 1}, ema


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--config", default="paper32", choices=sorted(am.CONFIGS))
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("-o", "--output", required=True, help="checkpoint to write (.ckpt)")
    ap.add_argument("--ema-model", help="also export the EMA weights as an ARG model file")
    a = ap.parse_args(argv)
    cfg = am.validate_config(am.CONFIGS[a.config])
    ckpt, ema = build_checkpoint(cfg, a.seed)
    torch.save(ckpt, a.output)
    if a.ema_model:
        export.export_model(ema, a.ema_model, name="om2-ema")
    print(f"wrote {a.output}: {len(ckpt['state_dict'])} entries ({a.config}, seed {a.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
