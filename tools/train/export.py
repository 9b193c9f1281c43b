#!/usr/bin/env python3
"""Write and read ARG model files (spec/model-format.md).

    export_model(model, "m.safetensors", name="arg-s8", dtype="f16")
    model = load_model("m.safetensors")

Command line:

    export.py --info MODEL.safetensors
    export.py INPUT -o OUT.safetensors [--dtype f16] [--name NAME] [--description TEXT]

INPUT is an ARG model file (re-exported, e.g. to f16, or renamed) or a torch
checkpoint holding {'config': {...}, 'state_dict' or 'model': {...}}.
"""

import argparse
import json
import re
import sys

import numpy as np
import torch

import argmodel
from safetensors_io import (MODEL_DTYPES, SafetensorsError, data_section, read_safetensors,
                            write_safetensors)

FORMAT = "arg-model"
FORMAT_VERSION = "1"
_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,63}$")


class ModelFileError(ValueError):
    """A model file that is not a valid ARG model file (message names the problem)."""


def config_json(cfg):
    """The compact JSON string stored in the `config` metadata key (fields in spec order)."""
    return json.dumps(argmodel.validate_config(cfg), separators=(",", ":"))


def model_metadata(cfg, name=None, description=None):
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": config_json(cfg)}
    if name is not None:
        if not _NAME_RE.match(name):
            raise ModelFileError(f"model name {name!r} must be 1..63 bytes of [A-Za-z0-9._-]")
        meta["name"] = name
    if description is not None:
        meta["description"] = description
    return meta


def check_tensor_set(cfg, shapes):
    """Compare {name: shape} with what the configuration requires; raise with a full list."""
    want = argmodel.tensor_shapes(cfg)
    problems = []
    missing = [k for k in want if k not in shapes]
    unexpected = sorted(k for k in shapes if k not in want)
    if missing:
        problems.append("missing tensor(s): " + ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else ""))
    if unexpected:
        problems.append("tensor(s) the configuration does not use: " + ", ".join(unexpected[:20])
                        + (" ..." if len(unexpected) > 20 else ""))
    for k, shape in want.items():
        if k in shapes and tuple(shapes[k]) != tuple(shape):
            problems.append(f"{k} has shape {list(shapes[k])}, the configuration needs {list(shape)}")
    if problems:
        raise ModelFileError("; ".join(problems))


def export_state_dict(cfg, state_dict, path, name=None, dtype="f32", description=None):
    """Write a {name: tensor} dict with its configuration as an ARG model file."""
    if dtype not in ("f32", "f16"):
        raise ValueError(f"dtype must be 'f32' or 'f16', got {dtype!r}")
    cfg = argmodel.validate_config(cfg)
    check_tensor_set(cfg, {k: tuple(v.shape) for k, v in state_dict.items()})
    np_dtype = np.float32 if dtype == "f32" else np.float16
    tensors = {}
    for k, v in state_dict.items():
        arr = v.detach().cpu().float().numpy() if isinstance(v, torch.Tensor) else np.asarray(v, np.float32)
        if not np.all(np.isfinite(arr)):
            raise ModelFileError(f"tensor {k} holds non-finite values")
        out = arr.astype(np_dtype)
        if not np.all(np.isfinite(out)):
            raise ModelFileError(f"tensor {k} overflows {dtype}")
        tensors[k] = out
    write_safetensors(path, tensors, model_metadata(cfg, name, description))


def export_model(model, path, name=None, dtype="f32", description=None):
    """Write an ArgTokenizer as an ARG model file (f32 or f16 tensors)."""
    export_state_dict(model.config, model.state_dict(), path, name, dtype, description)


def read_model_file(path):
    """Read and validate a model file -> (config, {name: float32 np.ndarray}, metadata)."""
    try:
        tensors, meta = read_safetensors(path, allowed_dtypes=MODEL_DTYPES)
    except SafetensorsError as e:
        raise ModelFileError(f"{path}: {e}") from None
    if meta is None:
        raise ModelFileError(f"{path}: no __metadata__ (not an ARG model file)")
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: metadata format is {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: format_version {meta.get('format_version')!r} is not supported "
                             f"(this reader knows {FORMAT_VERSION!r})")
    if "config" not in meta:
        raise ModelFileError(f"{path}: metadata has no config")
    try:
        cfg = argmodel.validate_config(json.loads(meta["config"]))
    except json.JSONDecodeError as e:
        raise ModelFileError(f"{path}: config is not valid JSON: {e}") from None
    except argmodel.ConfigError as e:
        raise ModelFileError(f"{path}: invalid config: {e}") from None
    try:
        check_tensor_set(cfg, {k: v.shape for k, v in tensors.items()})
    except ModelFileError as e:
        raise ModelFileError(f"{path}: {e}") from None
    tensors = {k: v.astype(np.float32) for k, v in tensors.items()}
    return cfg, tensors, meta


def load_model(path, device="cpu"):
    """Load an ARG model file into a new ArgTokenizer (f16 files are widened to f32)."""
    cfg, tensors, meta = read_model_file(path)
    model = argmodel.ArgTokenizer(cfg)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    model.model_name = meta.get("name")
    return model.to(device).eval()


def _load_input(path):
    """Model file or torch checkpoint -> (config, state_dict, name or None)."""
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"PK" or path.endswith((".pt", ".pth", ".ckpt")):
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or "config" not in ckpt:
            raise ModelFileError(f"{path}: torch checkpoint lacks a 'config' entry")
        sd = ckpt.get("state_dict", ckpt.get("model"))
        if sd is None:
            raise ModelFileError(f"{path}: torch checkpoint lacks 'state_dict' / 'model'")
        return ckpt["config"], sd, ckpt.get("name")
    cfg, tensors, meta = read_model_file(path)
    return cfg, {k: torch.from_numpy(v) for k, v in tensors.items()}, meta.get("name")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Export, re-export or inspect ARG model files.")
    ap.add_argument("input", nargs="?", help="ARG model file or torch checkpoint {'config', 'state_dict'}")
    ap.add_argument("-o", "--output", help="output model file (.safetensors)")
    ap.add_argument("--dtype", choices=("f32", "f16"), default="f32", help="tensor storage type")
    ap.add_argument("--name", help="model name stored in the metadata ([A-Za-z0-9._-], <= 63 bytes)")
    ap.add_argument("--description", help="free-text description stored in the metadata")
    ap.add_argument("--info", metavar="MODEL", help="validate a model file and print its configuration")
    args = ap.parse_args(argv)
    try:
        if args.info:
            cfg, tensors, meta = read_model_file(args.info)
            print(f"name: {meta.get('name', '-')}")
            print(f"config: {json.dumps(cfg)}")
            print(argmodel.config_summary(cfg))
            print(f"tensors: {len(tensors)}, data section {len(data_section(args.info)):,} bytes")
            return 0
        if not args.input or not args.output:
            ap.error("give INPUT and -o OUTPUT, or --info MODEL")
        cfg, sd, name = _load_input(args.input)
        export_state_dict(cfg, sd, args.output, args.name or name, args.dtype, args.description)
        print(f"wrote {args.output} ({args.dtype})")
        return 0
    except (ModelFileError, argmodel.ConfigError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
