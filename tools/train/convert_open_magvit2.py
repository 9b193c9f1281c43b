#!/usr/bin/env python3
"""Convert an Open-MAGVIT2 video tokenizer checkpoint to an ARG model file.

Open-MAGVIT2 (TencentARC/SEED-Voken, improved_video_model.py) is a PyTorch Lightning
module; its checkpoint holds the weights under 'state_dict', with EMA copies under
'model_ema.<original name with the dots removed>'. EMA weights are used when the
checkpoint has them (unless --no-ema).

Name mapping (Open-MAGVIT2 -> ARG, spec/model-format.md §5):

    *.conv_1.{weight,bias}                         -> drop the '.conv_1' level
    encoder.mid_block.{k}.* / decoder.mid_block.{k}.* -> encoder.mid.{k}.* / decoder.mid.{k}.*
    decoder.adaptive.{l}.{gamma,beta}.*            -> decoder.up.{l}.norm.{gamma,beta}.*
    decoder.up.{l}.upsample.conv1.conv_1.*         -> decoder.up.{l}.upsample.*
    everything else under encoder./decoder.        -> unchanged

The configuration is the paper's (spec §3: zeros padding, clip scope, 17-frame clips,
adaptive decoder norm with unbiased variance, 32 groups, eps 1e-6) with the sizes
(base channels, multipliers, block counts, down factors, latent bits, input
channels) read from the tensor shapes. --config overrides any field.

    convert_open_magvit2.py video_128_L.ckpt -o open-magvit2.safetensors [--dtype f16]
"""

import argparse
import json
import re
import sys

import torch

import argmodel
from export import ModelFileError, check_tensor_set, export_state_dict

# fields an Open-MAGVIT2 checkpoint does not reveal through its shapes
OPEN_MAGVIT2_DEFAULTS = {
    "patch_size": 1,
    "num_groups": 32,
    "norm_eps": 1e-6,
    "norm_scope": "clip",
    "clip_frames": 17,
    "padding": "zeros",
    "decoder_norm": "adaptive",
    "agn_var": "unbiased",
}


class ConversionError(ValueError):
    pass


# ---------------------------------------------------------------------------
# name mapping
# ---------------------------------------------------------------------------

_TO_ARG = [  # (Open-MAGVIT2 pattern, ARG replacement), applied in order
    (r"^decoder\.up\.(\d+)\.upsample\.conv1\.conv_1\.(weight|bias)$", r"decoder.up.\1.upsample.\2"),
    (r"^decoder\.adaptive\.(\d+)\.(gamma|beta)\.(weight|bias)$", r"decoder.up.\1.norm.\2.\3"),
    (r"^(encoder|decoder)\.mid_block\.(\d+)\.", r"\1.mid.\2."),
    (r"\.conv_1\.(weight|bias)$", r".\1"),
]
_TO_OM2 = [  # the inverse mapping, ARG -> Open-MAGVIT2
    (r"^decoder\.up\.(\d+)\.upsample\.(weight|bias)$", r"decoder.up.\1.upsample.conv1.conv_1.\2"),
    (r"^decoder\.up\.(\d+)\.norm\.(gamma|beta)\.(weight|bias)$", r"decoder.adaptive.\1.\2.\3"),
    (r"^(encoder|decoder)\.mid\.(\d+)\.", r"\1.mid_block.\2."),
    (r"^((?:encoder|decoder)\.(?:conv_in|conv_out)"
     r"|.*\.(?:conv1|conv2|nin_shortcut)|encoder\.down\.\d+\.downsample)\.(weight|bias)$",
     r"\1.conv_1.\2"),
]


def _apply(rules, name):
    for pat, rep in rules:
        name = re.sub(pat, rep, name)
    return name


def to_arg_name(om2_name):
    """Open-MAGVIT2 parameter name -> ARG tensor name."""
    return _apply(_TO_ARG, om2_name)


def to_open_magvit2_name(arg_name):
    """ARG tensor name -> Open-MAGVIT2 parameter name."""
    return _apply(_TO_OM2, arg_name)


def ema_name(om2_name):
    """The LitEma buffer name of a parameter: 'model_ema.' + name without dots."""
    return "model_ema." + om2_name.replace(".", "")


def _is_model_key(k):
    return k.startswith(("encoder.", "decoder."))


# ---------------------------------------------------------------------------
# configuration from shapes
# ---------------------------------------------------------------------------

def infer_config(shapes, overrides=None):
    """Guess the ARG configuration from {ARG name: shape} plus the Open-MAGVIT2
    defaults; `overrides` (a dict) wins over both."""
    overrides = dict(overrides or {})
    cfg = dict(OPEN_MAGVIT2_DEFAULTS)
    cfg.update({k: v for k, v in overrides.items() if k in OPEN_MAGVIT2_DEFAULTS})

    def need(name):
        if name not in shapes:
            raise ConversionError(f"checkpoint lacks {to_open_magvit2_name(name)} (needed to read the architecture)")
        return shapes[name]

    p = cfg["patch_size"]
    C, P = need("encoder.conv_in.weight")[:2]
    Z = need("encoder.conv_out.weight")[0]
    if P % (p * p):
        raise ConversionError(f"conv_in has {P} input channels, not a multiple of patch_size^2 = {p * p}")
    levels = sorted({int(m.group(1)) for k in shapes for m in [re.match(r"^encoder\.down\.(\d+)\.", k)] if m})
    if not levels or levels != list(range(len(levels))):
        raise ConversionError(f"encoder levels {levels} are not 0..L-1")
    L = len(levels)

    def count(prefix_re):
        return len({m.group(1) for k in shapes for m in [re.match(prefix_re, k)] if m})

    enc_blocks = [count(rf"^encoder\.down\.{l}\.block\.(\d+)\.") for l in range(L)]
    dec_blocks = [count(rf"^decoder\.up\.{l}\.block\.(\d+)\.") for l in range(L)]
    mid = count(r"^encoder\.mid\.(\d+)\.")
    if count(r"^decoder\.mid\.(\d+)\.") != mid:
        raise ConversionError("encoder and decoder have different numbers of middle blocks")

    # level widths: from the encoder's last block, else the decoder's, else carried over
    mult = []
    for l in range(L):
        if enc_blocks[l]:
            w = need(f"encoder.down.{l}.block.{enc_blocks[l] - 1}.conv2.weight")[0]
        elif dec_blocks[l]:
            w = need(f"decoder.up.{l}.block.{dec_blocks[l] - 1}.conv2.weight")[0]
        else:
            w = mult[-1] * C if mult else C
        if w % C:
            raise ConversionError(f"level {l} width {w} is not a multiple of base channels {C}")
        mult.append(w // C)

    # down factors from the decoder upsampler: Cl -> Cl * a * b * b
    down = []
    for l in range(L - 1):
        key = f"decoder.up.{l + 1}.upsample.weight"
        has_down = f"encoder.down.{l}.downsample.weight" in shapes
        if key not in shapes:
            if has_down:
                raise ConversionError(f"level {l} has an encoder downsample but no decoder upsample")
            down.append([1, 1])
            continue
        co, ci = shapes[key][:2]
        factor = {8: [2, 2], 4: [1, 2], 2: [2, 1]}.get(co // ci if co % ci == 0 else 0)
        if factor is None:
            raise ConversionError(f"{key}: {co} outputs for {ci} inputs is no known up-sampling factor")
        down.append(factor)
    if "decoder_norm" not in overrides:
        adaptive = any(k.endswith(".norm.gamma.weight") for k in shapes)
        cfg["decoder_norm"] = "adaptive" if adaptive else "plain"

    cfg.update({
        "in_channels": P // (p * p), "base_channels": C, "channel_mult": mult,
        "enc_blocks": enc_blocks, "dec_blocks": dec_blocks, "mid_blocks": mid,
        "down": down, "lfq_bits": Z,
    })
    cfg.update(overrides)
    ordered = {k: cfg[k] for k in argmodel.CONFIG_FIELDS if k in cfg}
    ordered.update({k: v for k, v in cfg.items() if k not in ordered})  # unknown -> validation error
    return argmodel.validate_config(ordered)


# ---------------------------------------------------------------------------
# conversion
# ---------------------------------------------------------------------------

def load_checkpoint(path, allow_pickle=False):
    """torch.load the checkpoint's state dict (safe loader unless allow_pickle)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as e:  # the safe unpickler refuses arbitrary objects
        if not allow_pickle:
            raise ConversionError(
                f"{path}: the safe loader refused the checkpoint ({type(e).__name__}: {e}); "
                "if you trust the file, pass --allow-pickle") from None
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict):
        return ckpt["state_dict"]
    if isinstance(ckpt, dict) and any(_is_model_key(k) for k in ckpt):
        return ckpt  # a bare state dict
    raise ConversionError(f"{path}: no 'state_dict' with encoder./decoder. weights in the checkpoint")


def convert_state_dict(sd, use_ema=True, config_overrides=None, log=print):
    """Open-MAGVIT2 state dict -> (ARG config, {ARG name: float32 tensor})."""
    plain = {k: v for k, v in sd.items() if _is_model_key(k)}
    if not plain:
        raise ConversionError("the state dict has no encoder./decoder. weights")
    arg_from_om2 = {}
    for k in plain:
        a = to_arg_name(k)
        if to_open_magvit2_name(a) != k:
            raise ConversionError(f"unexpected model key {k!r} (no ARG equivalent)")
        arg_from_om2[k] = a
    shapes = {a: tuple(plain[k].shape) for k, a in arg_from_om2.items()}
    cfg = infer_config(shapes, config_overrides)

    want = argmodel.tensor_shapes(cfg)
    missing = [to_open_magvit2_name(a) for a in want if a not in shapes]
    unexpected = sorted(k for k, a in arg_from_om2.items() if a not in want)
    if missing or unexpected:
        msg = []
        if missing:
            msg.append("missing model key(s): " + ", ".join(missing))
        if unexpected:
            msg.append("unexpected model key(s): " + ", ".join(unexpected))
        raise ConversionError("; ".join(msg))
    check_tensor_set(cfg, shapes)

    ema_keys = {k for k in sd if k.startswith(("model_ema.encoder", "model_ema.decoder"))}
    if use_ema and ema_keys:
        source = {}
        by_ema = {}
        for om2 in plain:
            e = ema_name(om2)
            if e in by_ema:
                raise ConversionError(f"EMA name {e} is ambiguous ({by_ema[e]} and {om2})")
            by_ema[e] = om2
        missing = sorted(e for e in by_ema if e not in sd)
        extra = sorted(ema_keys - set(by_ema))
        if missing or extra:
            raise ConversionError("EMA weights do not match the model: "
                                  + (f"missing {', '.join(missing[:10])} " if missing else "")
                                  + (f"unexpected {', '.join(extra[:10])}" if extra else "")
                                  + " (use --no-ema to convert the raw weights)")
        for e, om2 in by_ema.items():
            if tuple(sd[e].shape) != tuple(plain[om2].shape):
                raise ConversionError(f"{e} has shape {list(sd[e].shape)}, {om2} has {list(plain[om2].shape)}")
            source[arg_from_om2[om2]] = sd[e]
        log(f"using EMA weights ({len(source)} tensors)")
    else:
        source = {arg_from_om2[k]: v for k, v in plain.items()}
        log("using raw (non-EMA) weights" + ("" if use_ema else " (--no-ema)")
            + ("" if ema_keys or not use_ema else "; the checkpoint has no EMA copies"))
    out = {k: source[k].detach().to(torch.float32).cpu() for k in want}
    return cfg, out


def convert_file(src, dst, use_ema=True, config_overrides=None, name="open-magvit2",
                 dtype="f32", allow_pickle=False, log=print):
    sd = load_checkpoint(src, allow_pickle)
    cfg, tensors = convert_state_dict(sd, use_ema, config_overrides, log)
    export_state_dict(cfg, tensors, dst, name=name, dtype=dtype,
                      description=f"converted from Open-MAGVIT2 checkpoint {src.rsplit('/', 1)[-1]}"
                                  + ("" if use_ema else " (raw weights)"))
    log(f"wrote {dst}: {argmodel.config_summary(cfg)}")
    return cfg


def main(argv=None):
    ap = argparse.ArgumentParser(description="Convert an Open-MAGVIT2 video checkpoint to an ARG model file.")
    ap.add_argument("checkpoint", help="Open-MAGVIT2 .ckpt (weights under 'state_dict')")
    ap.add_argument("-o", "--output", required=True, help="ARG model file to write (.safetensors)")
    ap.add_argument("--no-ema", action="store_true", help="convert the raw weights, not the EMA copies")
    ap.add_argument("--config", metavar="JSON",
                    help="configuration fields overriding the defaults and the inferred sizes "
                         "(a JSON object, inline or a file name)")
    ap.add_argument("--name", default="open-magvit2", help="model name in the metadata")
    ap.add_argument("--dtype", choices=("f32", "f16"), default="f32", help="tensor storage type")
    ap.add_argument("--allow-pickle", action="store_true",
                    help="allow full unpickling of the checkpoint (only for files you trust)")
    args = ap.parse_args(argv)
    try:
        overrides = None
        if args.config:
            text = args.config
            if not text.lstrip().startswith("{"):
                with open(text) as f:
                    text = f.read()
            overrides = json.loads(text)
            if not isinstance(overrides, dict):
                raise ConversionError("--config must be a JSON object")
        convert_file(args.checkpoint, args.output, not args.no_ema, overrides, args.name,
                     args.dtype, args.allow_pickle)
        return 0
    except (ConversionError, ModelFileError, argmodel.ConfigError, OSError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
