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


def make_older(version, seed):
    """Tiny v4, v5.2 or v6 checkpoints with BlinkDL names and shapes (same C, H, N as the v7 one)."""
    rng = np.random.default_rng(seed)
    L, C, H, N, V, F = (CFG[k] for k in ("n_layer", "n_embd", "n_head", "head_size", "vocab", "ffn"))
    D, DW = 8, 16
    w = collections.OrderedDict()
    mat = lambda *shape, scale: rng.normal(0, scale, size=shape)
    w["emb.weight"] = mat(V, C, scale=1.0)
    for i in range(L):
        p, a, f = f"blocks.{i}.", f"blocks.{i}.att.", f"blocks.{i}.ffn."
        for n in ("ln1", "ln2") + (("ln0",) if i == 0 else ()):
            w[p + n + ".weight"] = 1 + rng.uniform(-0.2, 0.2, C)
            w[p + n + ".bias"] = rng.uniform(-0.2, 0.2, C)
        if version == "6":
            for n in ("x", "w", "k", "v", "r", "g"):
                w[a + "time_maa_" + n] = rng.uniform(0.05, 0.95, (1, 1, C))
            w[a + "time_maa_w1"] = mat(C, 5 * D, scale=0.3)
            w[a + "time_maa_w2"] = mat(5, D, C, scale=0.3)
            w[a + "time_decay"] = rng.uniform(-3, 0.5, (1, 1, C))
            w[a + "time_decay_w1"] = mat(C, DW, scale=0.3)
            w[a + "time_decay_w2"] = mat(DW, C, scale=0.3)
            w[a + "time_faaaa"] = rng.uniform(-0.5, 0.5, (H, N))
        else:
            for n in ("k", "v", "r") + (("g",) if version == "5.2" else ()):
                w[a + "time_mix_" + n] = rng.uniform(0.05, 0.95, (1, 1, C))
            if version == "5.2":
                w[a + "time_decay"] = rng.uniform(-3, 0.5, (H, N))
                w[a + "time_faaaa"] = rng.uniform(-0.5, 0.5, (H, N))
            else:
                w[a + "time_decay"] = rng.uniform(-3, 0.5, C)
                w[a + "time_first"] = rng.uniform(-0.5, 0.5, C)
        names = ("receptance", "key", "value", "output") + (("gate",) if version != "4" else ())
        for n in names:
            w[a + n + ".weight"] = mat(C, C, scale=C ** -0.5)
        if version != "4":
            w[a + "ln_x.weight"] = 1 + rng.uniform(-0.2, 0.2, C)
            w[a + "ln_x.bias"] = rng.uniform(-0.2, 0.2, C)
        for n in ("k", "r"):
            w[f + ("time_maa_" if version == "6" else "time_mix_") + n] = rng.uniform(0.05, 0.95, (1, 1, C))
        w[f + "key.weight"] = mat(F, C, scale=C ** -0.5)
        w[f + "receptance.weight"] = mat(C, C, scale=C ** -0.5)
        w[f + "value.weight"] = mat(C, F, scale=F ** -0.5)
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


class OlderReference:
    """v4, v5.x and v6 written from the formulas in the fixtures README (section 3.4)."""

    def __init__(self, w):
        self.w = {k: np.asarray(v, dtype=np.float64) for k, v in w.items()}
        keys = list(w)
        self.V, self.C = self.w["emb.weight"].shape
        self.L = 1 + max(int(k.split(".")[1]) for k in keys if k.startswith("blocks."))
        self.version = "6" if any("time_maa" in k for k in keys) else ("5" if any("ln_x" in k for k in keys) else "4")
        if self.version != "4":
            key = "blocks.0.att.time_faaaa" if "blocks.0.att.time_faaaa" in self.w else "blocks.0.att.time_decay"
            self.H = self.w[key].shape[0]
            self.N = self.C // self.H

    def zero_state(self):
        C = self.C
        if self.version == "4":
            return [[np.zeros(C), np.zeros(C), np.zeros(C), np.full(C, -1e30), np.zeros(C)] for _ in range(self.L)]
        return [[np.zeros(C), np.zeros((self.H, self.N, self.N)), np.zeros(C)] for _ in range(self.L)]

    def step(self, token, state):
        W, C = self.w, self.C
        sq = lambda k: W[k].reshape(-1)
        x = layer_norm(W["emb.weight"][token], W["blocks.0.ln0.weight"], W["blocks.0.ln0.bias"])
        for i in range(self.L):
            p, a, f = f"blocks.{i}.", f"blocks.{i}.att.", f"blocks.{i}.ffn."
            st = state[i]
            xx = layer_norm(x, W[p + "ln1.weight"], W[p + "ln1.bias"])
            prev = st[0].copy()
            st[0] = xx
            if self.version == "4":
                mix = lambda n: xx * sq(a + "time_mix_" + n) + prev * (1 - sq(a + "time_mix_" + n))
                r = sigmoid(W[a + "receptance.weight"] @ mix("r"))
                k = W[a + "key.weight"] @ mix("k")
                v = W[a + "value.weight"] @ mix("v")
                w_, u = -np.exp(sq(a + "time_decay")), sq(a + "time_first")
                aa, bb, pp = st[1], st[2], st[3]
                q = np.maximum(pp, u + k)
                e1, e2 = np.exp(pp - q), np.exp(u + k - q)
                wkv = (e1 * aa + e2 * v) / (e1 * bb + e2)
                q = np.maximum(pp + w_, k)
                e1, e2 = np.exp(pp + w_ - q), np.exp(k - q)
                st[1], st[2], st[3] = e1 * aa + e2 * v, e1 * bb + e2, q
                x = x + W[a + "output.weight"] @ (r * wkv)
            else:
                H, N = self.H, self.N
                if self.version == "6":
                    d = prev - xx
                    xxx = xx + d * sq(a + "time_maa_x")
                    m = np.tanh(xxx @ W[a + "time_maa_w1"]).reshape(5, -1)
                    mj = [m[j] @ W[a + "time_maa_w2"][j] for j in range(5)]
                    xw, xk, xv, xr, xg = (xx + d * (sq(a + "time_maa_" + n) + mj[j]) for j, n in enumerate("wkvrg"))
                    w_ = np.exp(-np.exp(sq(a + "time_decay") + np.tanh(xw @ W[a + "time_decay_w1"]) @ W[a + "time_decay_w2"]))
                    u = sq(a + "time_faaaa")
                else:
                    mix = lambda n: xx * sq(a + "time_mix_" + n) + prev * (1 - sq(a + "time_mix_" + n))
                    xk, xv, xr, xg = mix("k"), mix("v"), mix("r"), mix("g")
                    w_ = np.exp(-np.exp(sq(a + "time_decay")))
                    u = sq(a + "time_faaaa")
                r = W[a + "receptance.weight"] @ xr
                k = W[a + "key.weight"] @ xk
                v = W[a + "value.weight"] @ xv
                g = W[a + "gate.weight"] @ xg
                g = g * sigmoid(g)
                S = st[1]
                y = np.zeros(C)
                for h in range(H):
                    s_ = slice(h * N, (h + 1) * N)
                    kv = np.outer(k[s_], v[s_])
                    y[s_] = r[s_] @ (u[s_][:, None] * kv + S[h])
                    S[h] = kv + w_[s_][:, None] * S[h]
                yy = y.reshape(H, N)
                mu = yy.mean(1, keepdims=True)
                var = ((yy - mu) ** 2).mean(1, keepdims=True)
                y = ((yy - mu) / np.sqrt(var + 64e-5)).reshape(C) * W[a + "ln_x.weight"] + W[a + "ln_x.bias"]
                x = x + W[a + "output.weight"] @ (y * g)
            xx = layer_norm(x, W[p + "ln2.weight"], W[p + "ln2.bias"])
            prev = st[-1].copy()
            st[-1] = xx
            if self.version == "6":
                xk = xx + (prev - xx) * sq(f + "time_maa_k")
                xr = xx + (prev - xx) * sq(f + "time_maa_r")
            else:
                xk = xx * sq(f + "time_mix_k") + prev * (1 - sq(f + "time_mix_k"))
                xr = xx * sq(f + "time_mix_r") + prev * (1 - sq(f + "time_mix_r"))
            x = x + sigmoid(W[f + "receptance.weight"] @ xr) * (W[f + "value.weight"] @ (np.maximum(W[f + "key.weight"] @ xk, 0) ** 2))
        return W["head.weight"] @ layer_norm(x, W["ln_out.weight"], W["ln_out.bias"])


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
    for name, cls in (("tiny-v7.0", Reference), ("tiny-v6.0", OlderReference), ("tiny-v5.2", OlderReference), ("tiny-v4", OlderReference)):
        d = os.path.join(root, name)
        ref = cls(read_safetensors(os.path.join(d, "model.bf16.safetensors")))
        expected = np.fromfile(os.path.join(d, "logits_step.bin"), dtype="<f4").reshape(len(TOKENS), -1)
        state = ref.zero_state()
        got = np.stack([ref.step(t, state) for t in TOKENS])
        st = np.fromfile(os.path.join(d, "state_step_final.bin"), dtype="<f4")
        print(f"NumPy reference vs official package ({name}): logits max |diff| {np.abs(got - expected).max():.3g}, "
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
    # The same shapes serve the v6 model, whose state is [head, key, value]: the package
    # uses time_state with its last two axes swapped (tested against this rule).
    write_safetensors(os.path.join(out, "tiny6.state.safetensors"), good, "fp32")
    ref = Reference(w)
    state = ref.zero_state()
    logits = np.stack([ref.step(t, state) for t in TOKENS]).astype("<f4")
    logits.tofile(os.path.join(out, "tiny7.logits_step.bin"))
    Reference.flat_state(state).astype("<f4").tofile(os.path.join(out, "tiny7.state_final.bin"))
    # Older versions: a .pth, a safetensors file and reference outputs each.
    older = {}
    for version, tag in (("6", "tiny6"), ("5.2", "tiny52"), ("4", "tiny4")):
        wo = make_older(version, args.seed + 10 + len(older))
        write_pth(os.path.join(out, f"{tag}.fp32.pth"), wo, "fp32")
        write_safetensors(os.path.join(out, f"{tag}.bf16.safetensors"), wo, "bf16")
        ro = OlderReference(wo)
        so = ro.zero_state()
        lo = np.stack([ro.step(t, so) for t in TOKENS]).astype("<f4")
        lo.tofile(os.path.join(out, f"{tag}.logits_step.bin"))
        Reference.flat_state(so).astype("<f4").tofile(os.path.join(out, f"{tag}.state_final.bin"))
        older[tag] = {"version": version, "max_abs_logit": float(np.abs(lo).max())}
    manifest = {
        "generator": "Scripts/make_fixtures.py", "seed": args.seed, "config": CFG, "tokens": TOKENS, "older": older,
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
