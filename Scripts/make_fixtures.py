#!/usr/bin/env python3
"""Make rwkv-chat's own test fixtures: a tiny random RWKV-7 model in every file
format we read, plus reference outputs from an independent float64 NumPy
implementation of the RWKV-7 maths.

Usage:
    python3 Scripts/make_fixtures.py [--out Tests/RWKVTests/Fixtures] [--seed 7]
    python3 Scripts/make_fixtures.py --check-shared ../shared/fixtures

--check-shared runs the NumPy reference on the official package's tiny RWKV-7
fixture and reports the largest difference from the package's logits, which is
how we know this reference (and so our own fixtures) is right.

Needs only Python 3 and NumPy; no PyTorch. The .pth file is written the way
torch.save writes one (a zip of data.pkl plus one stored entry per tensor), with
a pickle made by the standard library.
"""
import argparse
import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile

import numpy as np

# ---------------------------------------------------------------- model

CFG = dict(n_layer=2, n_embd=32, n_head=2, head_size=16, vocab=256, ffn=64,
           d_decay=8, d_a=8, d_v=8, d_gate=16)


def to_bf16_exact(a):
    """Round float32 values to bfloat16 precision (round to nearest even), keeping
    them away from fp16 subnormals so they are exact in fp32, bf16 and fp16 alike."""
    a = np.asarray(a, dtype=np.float32)
    a = np.where(np.abs(a) < 1e-3, np.sign(a) * 1e-3 + (a == 0) * 1e-3, a).astype(np.float32)
    bits = a.view(np.uint32).astype(np.uint64)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return bits.astype(np.uint32).view(np.float32)


def make_model(seed):
    rng = np.random.default_rng(seed)
    L, C, H, N, V, F = (CFG[k] for k in ("n_layer", "n_embd", "n_head", "head_size", "vocab", "ffn"))
    w = collections.OrderedDict()

    def mat(*shape, scale):
        return rng.normal(0, scale, size=shape)

    w["emb.weight"] = mat(V, C, scale=1.0)
    for i in range(L):
        p = f"blocks.{i}."
        w[p + "ln1.weight"] = 1 + rng.uniform(-0.2, 0.2, C)
        w[p + "ln1.bias"] = rng.uniform(-0.2, 0.2, C)
        w[p + "ln2.weight"] = 1 + rng.uniform(-0.2, 0.2, C)
        w[p + "ln2.bias"] = rng.uniform(-0.2, 0.2, C)
        if i == 0:
            w[p + "ln0.weight"] = 1 + rng.uniform(-0.2, 0.2, C)
            w[p + "ln0.bias"] = rng.uniform(-0.2, 0.2, C)
        a = p + "att."
        for name in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g"):
            w[a + name] = rng.uniform(0.05, 0.95, (1, 1, C))
        w[a + "w1"] = mat(C, CFG["d_decay"], scale=0.3)
        w[a + "w2"] = mat(CFG["d_decay"], C, scale=0.3)
        w[a + "w0"] = rng.uniform(-2.0, 1.0, (1, 1, C))
        w[a + "a1"] = mat(C, CFG["d_a"], scale=0.3)
        w[a + "a2"] = mat(CFG["d_a"], C, scale=0.3)
        w[a + "a0"] = rng.uniform(-0.5, 0.5, (1, 1, C))
        w[a + "v1"] = mat(C, CFG["d_v"], scale=0.3)
        w[a + "v2"] = mat(CFG["d_v"], C, scale=0.3)
        w[a + "v0"] = rng.uniform(-0.5, 1.0, (1, 1, C))
        w[a + "g1"] = mat(C, CFG["d_gate"], scale=0.3)
        w[a + "g2"] = mat(CFG["d_gate"], C, scale=0.3)
        w[a + "k_k"] = rng.uniform(0.5, 1.2, (1, 1, C))
        w[a + "k_a"] = rng.uniform(0.5, 1.2, (1, 1, C))
        w[a + "r_k"] = rng.uniform(-0.5, 0.5, (H, N))
        for name in ("receptance", "key", "value", "output"):
            w[a + name + ".weight"] = mat(C, C, scale=C ** -0.5)
        w[a + "ln_x.weight"] = 1 + rng.uniform(-0.2, 0.2, C)
        w[a + "ln_x.bias"] = rng.uniform(-0.2, 0.2, C)
        w[p + "ffn.x_k"] = rng.uniform(0.05, 0.95, (1, 1, C))
        w[p + "ffn.key.weight"] = mat(F, C, scale=C ** -0.5)
        w[p + "ffn.value.weight"] = mat(C, F, scale=F ** -0.5)
    w["ln_out.weight"] = 1 + rng.uniform(-0.2, 0.2, C)
    w["ln_out.bias"] = rng.uniform(-0.2, 0.2, C)
    w["head.weight"] = mat(V, C, scale=C ** -0.5)
    return collections.OrderedDict((k, to_bf16_exact(v)) for k, v in w.items())


# ---------------------------------------------------------------- reference maths (float64)

def layer_norm(x, w, b, eps=1e-5):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


class Reference:
    """RWKV-7 written from the formulas in the fixtures README (section 3.4)."""

    def __init__(self, w):
        self.w = {k: np.asarray(v, dtype=np.float64) for k, v in w.items()}
        self.V, self.C = self.w["emb.weight"].shape
        self.H, self.N = self.w["blocks.0.att.r_k"].shape
        self.L = 1 + max(int(k.split(".")[1]) for k in w if k.startswith("blocks."))

    def zero_state(self):
        return [[np.zeros(self.C), np.zeros((self.H, self.N, self.N)), np.zeros(self.C)] for _ in range(self.L)]

    def step(self, token, state):
        W, C, H, N = self.w, self.C, self.H, self.N
        sq = lambda k: W[k].reshape(-1)
        x = layer_norm(W["emb.weight"][token], W["blocks.0.ln0.weight"], W["blocks.0.ln0.bias"])
        v_first = None
        for i in range(self.L):
            p, a = f"blocks.{i}.", f"blocks.{i}.att."
            xx = layer_norm(x, W[p + "ln1.weight"], W[p + "ln1.bias"])
            d = state[i][0] - xx
            state[i][0] = xx
            xr, xw, xk, xv, xa, xg = (xx + d * sq(a + n) for n in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g"))
            r = W[a + "receptance.weight"] @ xr
            k = W[a + "key.weight"] @ xk
            v = W[a + "value.weight"] @ xv
            decay = np.exp(-np.exp(-0.5) * sigmoid(sq(a + "w0") + np.tanh(xw @ W[a + "w1"]) @ W[a + "w2"]))
            aa = sigmoid(sq(a + "a0") + (xa @ W[a + "a1"]) @ W[a + "a2"])
            g = sigmoid(xg @ W[a + "g1"]) @ W[a + "g2"]
            kk = (k * sq(a + "k_k")).reshape(H, N)
            kk = (kk / np.maximum(np.linalg.norm(kk, axis=1, keepdims=True), 1e-12)).reshape(C)
            k = k * (1 + (aa - 1) * sq(a + "k_a"))
            if i == 0:
                v_first = v
            else:
                v = v + (v_first - v) * sigmoid(sq(a + "v0") + (xv @ W[a + "v1"]) @ W[a + "v2"])
            S = state[i][1]
            y = np.zeros(C)
            for h in range(H):
                s = slice(h * N, (h + 1) * N)
                Sh = S[h]
                Sh = Sh * decay[s][None, :] + np.outer(Sh @ (-kk[s]), kk[s] * aa[s]) + np.outer(v[s], k[s])
                S[h] = Sh
                y[s] = Sh @ r[s]
            yy = y.reshape(H, N)
            m = yy.mean(1, keepdims=True)
            var = ((yy - m) ** 2).mean(1, keepdims=True)
            y = ((yy - m) / np.sqrt(var + 64e-5)).reshape(C) * W[a + "ln_x.weight"] + W[a + "ln_x.bias"]
            y = y + ((r * k * W[a + "r_k"].reshape(C)).reshape(H, N).sum(1, keepdims=True) * v.reshape(H, N)).reshape(C)
            x = x + W[a + "output.weight"] @ (y * g)
            f = f"blocks.{i}.ffn."
            xx = layer_norm(x, W[p + "ln2.weight"], W[p + "ln2.bias"])
            kx = xx + (state[i][2] - xx) * sq(f + "x_k")
            state[i][2] = xx
            x = x + W[f + "value.weight"] @ (np.maximum(W[f + "key.weight"] @ kx, 0) ** 2)
        return W["head.weight"] @ layer_norm(x, W["ln_out.weight"], W["ln_out.bias"])

    @staticmethod
    def flat_state(state):
        return np.concatenate([np.concatenate([e.reshape(-1) for e in layer]) for layer in state])


# ---------------------------------------------------------------- writers

def write_pth(path, weights, dtype):
    """A torch.save-style zip: <stem>/data.pkl, <stem>/byteorder, <stem>/data/<n>."""
    storage_name = {"fp32": "FloatStorage", "bf16": "BFloat16Storage", "fp16": "HalfStorage"}[dtype]
    torch_mod = types.ModuleType("torch")
    utils_mod = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # Only its name is pickled.
        raise RuntimeError("not callable here")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2
    storage_cls = type(storage_name, (), {"__module__": "torch"})
    setattr(torch_mod, storage_name, storage_cls)
    torch_mod._utils = utils_mod
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = torch_mod, utils_mod

    class StorageRef:
        def __init__(self, key, numel):
            self.key, self.numel = key, numel

    class TensorRef:
        def __init__(self, key, shape):
            self.key, self.shape = key, tuple(shape)

        def __reduce__(self):
            stride, acc = [], 1
            for d in reversed(self.shape):
                stride.insert(0, acc)
                acc *= d
            return (_rebuild_tensor_v2,
                    (StorageRef(self.key, acc), 0, self.shape, tuple(stride), False, collections.OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, StorageRef):
                return ("storage", storage_cls, obj.key, "cpu", obj.numel)
            return None

    try:
        stem = os.path.splitext(os.path.basename(path))[0]
        obj = {k: TensorRef(str(i), v.shape) for i, (k, v) in enumerate(weights.items())}
        buf = io.BytesIO()
        Pickler(buf, protocol=2).dump(obj)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    def entry(name):
        # A fixed timestamp keeps the archive byte-identical from run to run.
        return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(entry(f"{stem}/data.pkl"), buf.getvalue())
        z.writestr(entry(f"{stem}/byteorder"), "little")
        for i, v in enumerate(weights.values()):
            z.writestr(entry(f"{stem}/data/{i}"), encode(v, dtype))
        z.writestr(entry(f"{stem}/version"), "3\n")


def encode(v, dtype):
    v = np.ascontiguousarray(v, dtype=np.float32)
    if dtype == "fp32":
        return v.astype("<f4").tobytes()
    if dtype == "fp16":
        return v.astype("<f2").tobytes()
    return (v.view(np.uint32) >> 16).astype("<u2").tobytes()


def write_safetensors(path, weights, dtype):
    name = {"fp32": "F32", "fp16": "F16", "bf16": "BF16"}[dtype]
    header, blobs, off = {}, [], 0
    for k in sorted(weights):
        b = encode(weights[k], dtype)
        header[k] = {"dtype": name, "shape": list(weights[k].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_rwkvcpp(path, weights, fp16):
    """rwkv.cpp ggmf file version 101 with its RWKV-7 rearrangements (x_rwkvag, transposed LoRA)."""
    C = weights["emb.weight"].shape[1]
    L = 1 + max(int(k.split(".")[1]) for k in weights if k.startswith("blocks."))
    out = [struct.pack("<6i", 0x67676D66, 101, weights["emb.weight"].shape[0], C, L, 1 if fp16 else 0)]
    lora = ("w1", "w2", "a1", "a2", "v1", "v2", "g1", "g2")
    mix = ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g")
    for k, v in weights.items():
        last = k.split(".")[-1]
        if ".att." in k and last in mix:
            if last != "x_r":
                continue
            stem = k[: -len("x_r")]
            v = np.concatenate([weights[stem + m] for m in mix], axis=0)  # (6, 1, C)
            k = stem + "x_rwkvag"
        elif ".att." in k and last in lora:
            v = np.ascontiguousarray(v.T)
        is_matrix = v.ndim == 2 and min(v.shape) > 1 and (k.endswith(".weight") or last in lora)
        t = 1 if (fp16 and is_matrix) else 0
        key = k.encode()
        dims = list(reversed(v.shape))
        out.append(struct.pack(f"<3i{len(dims)}i", len(dims), len(key), t, *dims) + key)
        out.append(encode(v, "fp16" if t else "fp32"))
    with open(path, "wb") as f:
        f.write(b"".join(out))


def write_vocab(path):
    """A small World-format vocabulary: all 256 bytes plus multi-byte tokens of every literal kind."""
    lines = []
    for b in range(256):
        lit = repr(bytes([b]).decode("latin-1")) if b < 0x80 else repr(bytes([b]))
        lines.append((b + 1, lit, 1))
    extra = ["User", "Assistant", ":", " hi", "\n\n", "  ", "    ", "你好", "世界", "👍", "the", " the", "ing",
             "'quote'", "back\\slash", "tab\there", "é"]
    for i, s in enumerate(extra):
        lines.append((257 + i, repr(s), len(s.encode())))
    lines.append((257 + len(extra), repr(b"\xe4\xbd"), 2))
    with open(path, "w", encoding="utf-8", newline="\r\n") as f:
        for i, lit, n in lines:
            f.write(f"{i} {lit} {n}\n")


# ---------------------------------------------------------------- main

TOKENS = [0, 85, 115, 101, 114, 58, 32, 104, 105, 10, 10, 65, 115, 115, 105, 115, 116, 97, 110, 116, 58, 255, 128, 32]


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = collections.OrderedDict()
    for k, info in header.items():
        if k == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = np.frombuffer(data[8 + n + a: 8 + n + b], dtype="<u2").astype(np.uint32) << 16
        out[k] = raw.view(np.float32).reshape(info["shape"])
    return out


def check_shared(root):
    d = os.path.join(root, "tiny-v7.0")
    ref = Reference(read_safetensors(os.path.join(d, "model.bf16.safetensors")))
    expected = np.fromfile(os.path.join(d, "logits_step.bin"), dtype="<f4").reshape(len(TOKENS), -1)
    state = ref.zero_state()
    got = np.stack([ref.step(t, state) for t in TOKENS])
    st = np.fromfile(os.path.join(d, "state_step_final.bin"), dtype="<f4")
    print(f"NumPy reference vs official package (tiny-v7.0): logits max |diff| {np.abs(got - expected).max():.3g}, "
          f"state max |diff| {np.abs(Reference.flat_state(state) - st).max():.3g}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "RWKVTests", "Fixtures"))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--check-shared", metavar="DIR")
    args = ap.parse_args()
    if args.check_shared:
        check_shared(args.check_shared)
        return
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    w = make_model(args.seed)
    write_pth(os.path.join(out, "tiny7.fp32.pth"), w, "fp32")
    write_pth(os.path.join(out, "tiny7.bf16.pth"), w, "bf16")
    write_safetensors(os.path.join(out, "tiny7.bf16.safetensors"), w, "bf16")
    write_safetensors(os.path.join(out, "tiny7.fp16.safetensors"), w, "fp16")
    write_rwkvcpp(os.path.join(out, "tiny7-FP32.bin"), w, fp16=False)
    write_rwkvcpp(os.path.join(out, "tiny7-FP16.bin"), w, fp16=True)
    write_vocab(os.path.join(out, "mini_vocab.txt"))
    # State-tuning files: one that fits (H, N, N per layer) and one tuned for another shape.
    rng = np.random.default_rng(args.seed + 1)
    H, N = CFG["n_head"], CFG["head_size"]
    good = collections.OrderedDict((f"blocks.{i}.att.time_state", to_bf16_exact(rng.normal(0, 0.5, (H, N, N))))
                                   for i in range(CFG["n_layer"]))
    write_safetensors(os.path.join(out, "tiny7.state.safetensors"), good, "fp32")
    bad = collections.OrderedDict((f"blocks.{i}.att.time_state", to_bf16_exact(rng.normal(0, 0.5, (H, N // 2, N // 2))))
                                  for i in range(CFG["n_layer"]))
    write_safetensors(os.path.join(out, "tiny7.badstate.safetensors"), bad, "fp32")
    ref = Reference(w)
    state = ref.zero_state()
    logits = np.stack([ref.step(t, state) for t in TOKENS]).astype("<f4")
    logits.tofile(os.path.join(out, "tiny7.logits_step.bin"))
    Reference.flat_state(state).astype("<f4").tofile(os.path.join(out, "tiny7.state_final.bin"))
    manifest = {
        "generator": "Scripts/make_fixtures.py", "seed": args.seed, "config": CFG, "tokens": TOKENS,
        "logits_step": {"file": "tiny7.logits_step.bin", "shape": list(logits.shape)},
        "state_final": {"file": "tiny7.state_final.bin", "floats": int(Reference.flat_state(state).size)},
        "reference": "float64 NumPy implementation in this script; checked against the official package with --check-shared",
        "tolerance": {"atol": 1e-4, "rtol": 1e-4},
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote fixtures to {out}; max |logit| {np.abs(logits).max():.3f}")


if __name__ == "__main__":
    main()
