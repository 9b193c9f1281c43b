"""Minimal, strict safetensors reader and writer (numpy only).

The container is described in spec/model-format.md §1:

    bytes 0..7       N, u64 little-endian: size of the JSON header
    bytes 8..8+N-1   JSON header (UTF-8 object, trailing spaces allowed)
    bytes 8+N..EOF   data section, every tensor's bytes, little-endian

The reader applies every container-level rejection rule of the spec (header size,
JSON shape, duplicated keys/fields, dtypes, shapes, offsets and exact tiling of the
data section). Model-level rules (metadata keys, the tensor set a configuration
needs) live in export.py.

No third-party `safetensors` package is needed or used.
"""

import json
import struct

import numpy as np

# dtype name -> numpy little-endian dtype
DTYPES = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I32": np.dtype("<i4"),
}
# dtypes allowed in a version-1 model file
MODEL_DTYPES = ("F32", "F16")

MAX_HEADER_BYTES = 16 * 1024 * 1024  # spec §1: N > 16 MiB is rejected
MAX_DIMS = 5
_MAX_ELEMENTS = 1 << 62  # "element count overflows" guard


class SafetensorsError(ValueError):
    """A malformed or unsupported safetensors file (the message names the problem)."""


def _no_duplicates(pairs):
    """json object_pairs_hook that rejects repeated keys at any nesting level."""
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise SafetensorsError(f"header repeats the key {key!r}")
        obj[key] = value
    return obj


def _reject_constant(name):
    raise SafetensorsError(f"header is not valid JSON: non-standard constant {name}")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _dtype_name(arr):
    """safetensors dtype name of a numpy array's dtype."""
    for name, dt in DTYPES.items():
        if arr.dtype.kind == dt.kind and arr.dtype.itemsize == dt.itemsize:
            return name
    raise SafetensorsError(f"unsupported array dtype {arr.dtype} (supported: F32, F16, I32)")


def _to_numpy(t):
    """Accept numpy arrays or torch tensors (any device) and return a numpy array."""
    if isinstance(t, np.ndarray):
        return t
    try:  # torch tensor, without importing torch here
        return t.detach().cpu().numpy()
    except AttributeError:
        return np.asarray(t)


def encode_safetensors(tensors, metadata=None):
    """Serialise {name: array} (+ string metadata) into safetensors bytes.

    Tensors are laid out contiguously in sorted-name order; the header is padded
    with spaces so that the data section starts on an 8-byte boundary.
    """
    if metadata is not None:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError(f"metadata must map strings to strings (key {k!r})")
    header = {}
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise SafetensorsError("'__metadata__' is not a valid tensor name")
        arr = _to_numpy(tensors[name])
        dname = _dtype_name(arr)
        arr = np.ascontiguousarray(arr, dtype=DTYPES[dname])
        if arr.ndim > MAX_DIMS or any(d <= 0 for d in arr.shape):
            raise SafetensorsError(f"tensor {name!r}: shape {list(arr.shape)} not allowed "
                                   f"(at most {MAX_DIMS} dimensions, each > 0)")
        data = arr.tobytes()
        header[name] = {"dtype": dname, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((-(8 + len(text))) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write_safetensors(path, tensors, metadata=None):
    """Write {name: array or tensor} with optional {str: str} metadata to `path`."""
    blob = encode_safetensors(tensors, metadata)
    with open(path, "wb") as f:
        f.write(blob)


def parse_header(buf):
    """Validate the container in `buf` (bytes) and return (header, data_start).

    `header` maps tensor names to (dtype, shape, begin, end) tuples plus the key
    '__metadata__' (a dict, possibly empty when absent).
    """
    size = len(buf)
    if size < 8:
        raise SafetensorsError(f"file is {size} bytes, shorter than the 8-byte header size")
    (n,) = struct.unpack_from("<Q", buf, 0)
    if n > MAX_HEADER_BYTES:
        raise SafetensorsError(f"header size {n} exceeds the 16 MiB limit")
    if n > size - 8:
        raise SafetensorsError(f"header size {n} exceeds the file ({size - 8} bytes after the size field)")
    try:
        text = bytes(buf[8:8 + n]).decode("utf-8")
        obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except SafetensorsError:
        raise
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError(f"header is not valid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise SafetensorsError("header is not a JSON object")

    data_size = size - 8 - n
    out = {}
    meta = obj.get("__metadata__", None)
    if meta is not None:
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise SafetensorsError("__metadata__ must be an object whose values are all strings")
    out["__metadata__"] = meta

    spans = []
    for name, entry in obj.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict):
            raise SafetensorsError(f"tensor {name!r}: entry is not an object")
        fields = {"dtype", "shape", "data_offsets"}
        missing = fields - set(entry)
        extra = set(entry) - fields
        if missing:
            raise SafetensorsError(f"tensor {name!r}: missing field(s) {sorted(missing)}")
        if extra:
            raise SafetensorsError(f"tensor {name!r}: unknown field(s) {sorted(extra)}")
        dtype = entry["dtype"]
        if dtype not in DTYPES:
            raise SafetensorsError(f"tensor {name!r}: unsupported dtype {dtype!r}")
        shape = entry["shape"]
        if not isinstance(shape, list) or not all(_is_int(d) for d in shape):
            raise SafetensorsError(f"tensor {name!r}: shape must be a list of integers")
        if len(shape) > MAX_DIMS:
            raise SafetensorsError(f"tensor {name!r}: {len(shape)} dimensions (at most {MAX_DIMS})")
        count = 1
        for d in shape:
            if d <= 0:
                raise SafetensorsError(f"tensor {name!r}: dimension {d} is not positive")
            count *= d
            if count > _MAX_ELEMENTS:
                raise SafetensorsError(f"tensor {name!r}: element count overflows")
        offs = entry["data_offsets"]
        if not (isinstance(offs, list) and len(offs) == 2 and all(_is_int(o) for o in offs)):
            raise SafetensorsError(f"tensor {name!r}: data_offsets must be two integers")
        b, e = offs
        if b < 0 or b > e:
            raise SafetensorsError(f"tensor {name!r}: bad data_offsets [{b}, {e}]")
        if e > data_size:
            raise SafetensorsError(f"tensor {name!r}: ends at {e}, past the data section ({data_size} bytes)")
        if e - b != count * DTYPES[dtype].itemsize:
            raise SafetensorsError(f"tensor {name!r}: {e - b} bytes for {count} x {dtype}")
        out[name] = (dtype, tuple(shape), b, e)
        spans.append((b, e, name))

    # the tensors must tile the data section exactly
    spans.sort()
    pos = 0
    for b, e, name in spans:
        if b != pos:
            what = "gap" if b > pos else "overlap"
            raise SafetensorsError(f"tensor {name!r}: {what} in the data section at byte {min(b, pos)}")
        pos = e
    if pos != data_size:
        raise SafetensorsError(f"data section has {data_size - pos} trailing bytes not owned by any tensor")
    return out, 8 + n


def decode_safetensors(buf, allowed_dtypes=tuple(DTYPES)):
    """Parse safetensors bytes -> (tensors {name: np.ndarray}, metadata dict or None)."""
    header, start = parse_header(buf)
    meta = header.pop("__metadata__")
    tensors = {}
    for name, (dtype, shape, b, e) in header.items():
        if dtype not in allowed_dtypes:
            raise SafetensorsError(f"tensor {name!r}: dtype {dtype} not allowed here "
                                   f"(allowed: {', '.join(allowed_dtypes)})")
        arr = np.frombuffer(buf, dtype=DTYPES[dtype], count=(e - b) // DTYPES[dtype].itemsize,
                            offset=start + b)
        tensors[name] = arr.reshape(shape).copy()
    return tensors, meta


def read_safetensors(path, allowed_dtypes=tuple(DTYPES)):
    """Read a file -> (tensors {name: np.ndarray}, metadata dict or None)."""
    with open(path, "rb") as f:
        buf = f.read()
    return decode_safetensors(buf, allowed_dtypes)


def data_section(path):
    """The raw data-section bytes of a file (what the model ID hashes, spec §6)."""
    with open(path, "rb") as f:
        buf = f.read()
    _, start = parse_header(buf)
    return buf[start:]
