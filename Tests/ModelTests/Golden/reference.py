#!/usr/bin/env python3
"""Golden reference for Ponder's transformer: a plain numpy Llama in float64.

What it is: the same model as Sources/Model/Transformer.swift (embedding; per layer RMSNorm,
q/k/v projections with optional bias, RoPE in the Hugging Face rotate-half layout, causal
grouped-query softmax attention, o_proj, residual, RMSNorm, SwiGLU MLP, residual; final
RMSNorm; LM head tied to the embedding or not), its weighted cross-entropy, a hand-written
backward pass for every parameter, and AdamW exactly as Sources/Model/AdamW.swift runs it.
The backward pass is checked against central finite differences before anything is written.

What it is not: a fast or general implementation. Everything is float64 so the Swift float32
model can be compared with it; inputs (weights) are rounded to float32 first, so both sides
start from identical numbers.

Output, one safetensors file per config in this folder (float32, ints as I32):
  <HF parameter names>            initial weights
  inputs.tokens, inputs.targets   [B, T] int32 (targets -1 = ignored)
  inputs.weights                  [B, T] float32 loss weights (some 0)
  logits [B*T, V], loss []        forward at the initial weights
  grad.<name>                     gradient of the loss for every parameter
  adamw.losses [5]                loss before each of 5 AdamW steps on the same batch
  adamw.final.<name>              parameters after the 5 steps
  __metadata__: config (config.json text, HF LlamaConfig keys), lr, steps, adamw hyper-parameters

Regenerate (needs numpy and safetensors; `make deps` installs them), from the repository root:
  python3 Tests/ModelTests/Golden/reference.py
Tensor values are deterministic for a given numpy version (fixed seeds; the safetensors package
writes header keys in no fixed order, so the bytes may differ); commit the .safetensors files.
"""

import json
import os
import sys

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIGS = {
    # tied embeddings, no bias, multi-head attention
    "golden_tied_mha": dict(V=61, C=32, L=2, H=4, K=4, F=96, T=7, B=2, tied=True, bias=False, seed=1234),
    # untied LM head, q/k/v bias (Qwen2 style), grouped-query attention
    "golden_untied_gqa_bias": dict(V=50, C=24, L=2, H=4, K=2, F=64, T=6, B=3, tied=False, bias=True, seed=5678),
}
ROPE_THETA = 10000.0
NORM_EPS = float(np.float32(1e-5))  # the Swift model holds eps as a Float
LR = 1e-2
STEPS = 5
BETA1, BETA2, ADAM_EPS, WEIGHT_DECAY = 0.9, 0.95, 1e-8, 0.1


def f32(x):
    """Rounds to float32 and back, to match the Swift side's numbers exactly."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# Parameters, in the order and with the names of Sources/Model/ParameterLayout.swift

def parameter_specs(c):
    """[(name, shape, kind)] with kind in embedding / norm / matrix / bias."""
    V, C, H, K, F = c["V"], c["C"], c["H"], c["K"], c["F"]
    D = C // H
    specs = [("model.embed_tokens.weight", (V, C), "embedding")]
    for i in range(c["L"]):
        p = f"model.layers.{i}."
        specs += [
            (p + "input_layernorm.weight", (C,), "norm"),
            (p + "self_attn.q_proj.weight", (H * D, C), "matrix"),
            (p + "self_attn.k_proj.weight", (K * D, C), "matrix"),
            (p + "self_attn.v_proj.weight", (K * D, C), "matrix"),
        ]
        if c["bias"]:
            specs += [
                (p + "self_attn.q_proj.bias", (H * D,), "bias"),
                (p + "self_attn.k_proj.bias", (K * D,), "bias"),
                (p + "self_attn.v_proj.bias", (K * D,), "bias"),
            ]
        specs += [
            (p + "self_attn.o_proj.weight", (C, H * D), "matrix"),
            (p + "post_attention_layernorm.weight", (C,), "norm"),
            (p + "mlp.gate_proj.weight", (F, C), "matrix"),
            (p + "mlp.up_proj.weight", (F, C), "matrix"),
            (p + "mlp.down_proj.weight", (C, F), "matrix"),
        ]
    specs.append(("model.norm.weight", (C,), "norm"))
    if not c["tied"]:
        specs.append(("lm_head.weight", (V, C), "matrix"))
    return specs


def init_parameters(c, rng):
    params = {}
    for name, shape, kind in parameter_specs(c):
        if kind == "norm":
            w = 1 + 0.1 * rng.standard_normal(shape)
        elif kind == "bias":
            w = 0.05 * rng.standard_normal(shape)
        else:
            w = 0.1 * rng.standard_normal(shape)
        params[name] = f32(w)
    return params


def config_json(c):
    return json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
        "vocab_size": c["V"], "hidden_size": c["C"], "num_hidden_layers": c["L"],
        "num_attention_heads": c["H"], "num_key_value_heads": c["K"], "intermediate_size": c["F"],
        "max_position_embeddings": 16, "rope_theta": ROPE_THETA, "rms_norm_eps": 1e-5,
        "tie_word_embeddings": c["tied"], "attention_bias": c["bias"],
    }, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# Layers: forward returns (output, cache); backward takes the cache and returns input grads.

def rmsnorm_forward(x, w):
    r = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + NORM_EPS)
    return x * r * w, (x, w, r)


def rmsnorm_backward(dy, cache):
    x, w, r = cache
    C = x.shape[-1]
    dw = np.sum(dy * x * r, axis=tuple(range(x.ndim - 1)))
    dot = np.sum(dy * w * x, axis=-1, keepdims=True)
    dx = r * dy * w - x * r ** 3 * dot / C
    return dx, dw


def rope_tables(T, D):
    half = D // 2
    freq = ROPE_THETA ** (-2.0 * np.arange(half) / D)       # [D/2]
    angle = np.arange(T)[:, None] * freq[None, :]           # [T, D/2]
    return np.cos(angle), np.sin(angle)


def rope(x, cos, sin, direction=1.0):
    """x [B, T, heads, D], rotate-half pairing (x[i], x[i + D/2]); direction -1 undoes it."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    c = cos[None, :, None, :]
    s = direction * sin[None, :, None, :]
    return np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=-1)


def silu(g):
    return g / (1 + np.exp(-g))


def layer_forward(x, P, i, c, cos, sin):
    """x [B, T, C] -> out [B, T, C]."""
    B, T, C = x.shape
    H, K = c["H"], c["K"]
    D = C // H
    p = f"model.layers.{i}."
    ln1, ln1_cache = rmsnorm_forward(x, P[p + "input_layernorm.weight"])
    q = ln1 @ P[p + "self_attn.q_proj.weight"].T
    k = ln1 @ P[p + "self_attn.k_proj.weight"].T
    v = ln1 @ P[p + "self_attn.v_proj.weight"].T
    if c["bias"]:
        q = q + P[p + "self_attn.q_proj.bias"]
        k = k + P[p + "self_attn.k_proj.bias"]
        v = v + P[p + "self_attn.v_proj.bias"]
    q = rope(q.reshape(B, T, H, D), cos, sin)
    k = rope(k.reshape(B, T, K, D), cos, sin)
    v = v.reshape(B, T, K, D)
    group = H // K
    kh = np.repeat(k, group, axis=2)                         # [B, T, H, D]: head h reads h // group
    vh = np.repeat(v, group, axis=2)
    scores = np.einsum("bthd,bshd->bhts", q, kh) / np.sqrt(D)
    mask = np.tril(np.ones((T, T), dtype=bool))
    scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    probs = np.exp(scores)
    probs = probs / probs.sum(axis=-1, keepdims=True)        # [B, H, T, T]
    atty = np.einsum("bhts,bshd->bthd", probs, vh).reshape(B, T, H * D)
    mid = x + atty @ P[p + "self_attn.o_proj.weight"].T
    ln2, ln2_cache = rmsnorm_forward(mid, P[p + "post_attention_layernorm.weight"])
    gate = ln2 @ P[p + "mlp.gate_proj.weight"].T
    up = ln2 @ P[p + "mlp.up_proj.weight"].T
    swi = silu(gate) * up
    out = mid + swi @ P[p + "mlp.down_proj.weight"].T
    cache = (ln1, ln1_cache, q, kh, vh, probs, atty, ln2, ln2_cache, gate, up, swi)
    return out, cache


def layer_backward(dout, cache, P, G, i, c, cos, sin):
    """dout [B, T, C] -> dx [B, T, C]; adds parameter gradients into G."""
    ln1, ln1_cache, q, kh, vh, probs, atty, ln2, ln2_cache, gate, up, swi = cache
    B, T, C = dout.shape
    H, K = c["H"], c["K"]
    D = C // H
    group = H // K
    p = f"model.layers.{i}."
    # MLP branch: out = mid + down(silu(gate) * up)
    G[p + "mlp.down_proj.weight"] += np.einsum("btc,btf->cf", dout, swi)
    dswi = dout @ P[p + "mlp.down_proj.weight"]
    sig = 1 / (1 + np.exp(-gate))
    dgate = dswi * up * sig * (1 + gate * (1 - sig))
    dup = dswi * silu(gate)
    G[p + "mlp.gate_proj.weight"] += np.einsum("btf,btc->fc", dgate, ln2)
    G[p + "mlp.up_proj.weight"] += np.einsum("btf,btc->fc", dup, ln2)
    dln2 = dgate @ P[p + "mlp.gate_proj.weight"] + dup @ P[p + "mlp.up_proj.weight"]
    dmid_norm, dw2 = rmsnorm_backward(dln2, ln2_cache)
    G[p + "post_attention_layernorm.weight"] += dw2
    dmid = dout + dmid_norm
    # attention branch: mid = x + o_proj(attention)
    G[p + "self_attn.o_proj.weight"] += np.einsum("btc,bte->ce", dmid, atty)
    datty = (dmid @ P[p + "self_attn.o_proj.weight"]).reshape(B, T, H, D)
    dprobs = np.einsum("bthd,bshd->bhts", datty, vh)
    dvh = np.einsum("bhts,bthd->bshd", probs, datty)
    dscores = probs * (dprobs - np.sum(probs * dprobs, axis=-1, keepdims=True))
    dq = np.einsum("bhts,bshd->bthd", dscores, kh) / np.sqrt(D)
    dkh = np.einsum("bhts,bthd->bshd", dscores, q) / np.sqrt(D)
    # grouped heads: the gradient of a shared kv head sums over its query heads
    dk = dkh.reshape(B, T, K, group, D).sum(axis=3)
    dv = dvh.reshape(B, T, K, group, D).sum(axis=3)
    dq = rope(dq, cos, sin, direction=-1.0).reshape(B, T, H * D)
    dk = rope(dk, cos, sin, direction=-1.0).reshape(B, T, K * D)
    dv = dv.reshape(B, T, K * D)
    G[p + "self_attn.q_proj.weight"] += np.einsum("bte,btc->ec", dq, ln1)
    G[p + "self_attn.k_proj.weight"] += np.einsum("bte,btc->ec", dk, ln1)
    G[p + "self_attn.v_proj.weight"] += np.einsum("bte,btc->ec", dv, ln1)
    if c["bias"]:
        G[p + "self_attn.q_proj.bias"] += dq.sum(axis=(0, 1))
        G[p + "self_attn.k_proj.bias"] += dk.sum(axis=(0, 1))
        G[p + "self_attn.v_proj.bias"] += dv.sum(axis=(0, 1))
    dln1 = (dq @ P[p + "self_attn.q_proj.weight"] + dk @ P[p + "self_attn.k_proj.weight"]
            + dv @ P[p + "self_attn.v_proj.weight"])
    dx_norm, dw1 = rmsnorm_backward(dln1, ln1_cache)
    G[p + "input_layernorm.weight"] += dw1
    return dmid + dx_norm


def lm_head(P, c):
    return P["model.embed_tokens.weight"] if c["tied"] else P["lm_head.weight"]


def forward(P, c, tokens):
    """tokens [B, T] -> logits [B, T, V] and everything backward needs."""
    B, T = tokens.shape
    cos, sin = rope_tables(T, c["C"] // c["H"])
    x = P["model.embed_tokens.weight"][tokens]
    caches = []
    for i in range(c["L"]):
        x, cache = layer_forward(x, P, i, c, cos, sin)
        caches.append(cache)
    hidden, norm_cache = rmsnorm_forward(x, P["model.norm.weight"])
    logits = hidden @ lm_head(P, c).T
    return logits, (caches, hidden, norm_cache, cos, sin)


def loss_of(logits, targets, weights):
    """Weighted mean of -log softmax(logits)[target] over positions with target >= 0."""
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    valid = targets >= 0
    picked = np.take_along_axis(logp, np.where(valid, targets, 0)[..., None], axis=-1)[..., 0]
    w = np.where(valid, weights, 0.0)
    return -(w * picked).sum() / w.sum(), logp, w


def loss_and_gradients(P, c, tokens, targets, weights):
    logits, (caches, hidden, norm_cache, cos, sin) = forward(P, c, tokens)
    loss, logp, w = loss_of(logits, targets, weights)
    G = {name: np.zeros_like(value) for name, value in P.items()}
    # d loss / d logits = (softmax - onehot(target)) * w / sum(w)
    dlogits = np.exp(logp)
    onehot = np.zeros_like(dlogits)
    valid = targets >= 0
    b, t = np.nonzero(valid)
    onehot[b, t, targets[b, t]] = 1
    dlogits = (dlogits - onehot) * (w / w.sum())[..., None]
    head = "model.embed_tokens.weight" if c["tied"] else "lm_head.weight"
    G[head] += np.einsum("btv,btc->vc", dlogits, hidden)
    dx, dwf = rmsnorm_backward(dlogits @ lm_head(P, c), norm_cache)
    G["model.norm.weight"] += dwf
    for i in reversed(range(c["L"])):
        dx = layer_backward(dx, caches[i], P, G, i, c, cos, sin)
    np.add.at(G["model.embed_tokens.weight"], tokens, dx)
    return loss, logits, G


# ---------------------------------------------------------------------------------------------
# Checks and AdamW

def check_gradients(P, c, tokens, targets, weights, G, rng, samples=4, h=1e-5):
    """Central differences on a few entries of every tensor; returns the worst relative error."""
    worst = 0.0
    for name, value in P.items():
        for _ in range(samples):
            idx = tuple(rng.integers(0, n) for n in value.shape)
            old = value[idx]
            value[idx] = old + h
            lp = loss_of(forward(P, c, tokens)[0], targets, weights)[0]
            value[idx] = old - h
            lm = loss_of(forward(P, c, tokens)[0], targets, weights)[0]
            value[idx] = old
            numeric = (lp - lm) / (2 * h)
            # relative error, with an absolute floor for entries whose gradient is nearly zero
            err = abs(numeric - G[name][idx]) / (abs(numeric) + abs(G[name][idx]) + 1e-4)
            worst = max(worst, err)
            if err > 1e-6:
                sys.exit(f"gradient check failed: {name}{list(idx)}: analytic {G[name][idx]!r}, numeric {numeric!r}")
    # and the whole gradient at once: the derivative along a random direction
    direction = {name: rng.standard_normal(value.shape) for name, value in P.items()}
    shifted = lambda k: {name: P[name] + k * h * direction[name] for name in P}
    numeric = (loss_of(forward(shifted(1), c, tokens)[0], targets, weights)[0]
               - loss_of(forward(shifted(-1), c, tokens)[0], targets, weights)[0]) / (2 * h)
    analytic = sum(np.sum(G[name] * direction[name]) for name in P)
    err = abs(numeric - analytic) / abs(analytic)
    if err > 1e-6:
        sys.exit(f"gradient check failed along a random direction: analytic {analytic!r}, numeric {numeric!r}")
    return max(worst, err)


def adamw(P, c, tokens, targets, weights):
    """5 AdamW steps on the same batch, as Sources/Model/AdamW.swift: returns losses and params."""
    P = {k: v.copy() for k, v in P.items()}
    kinds = {name: kind for name, _, kind in parameter_specs(c)}
    m = {k: np.zeros_like(v) for k, v in P.items()}
    v2 = {k: np.zeros_like(v) for k, v in P.items()}
    losses = []
    for step in range(1, STEPS + 1):
        loss, _, G = loss_and_gradients(P, c, tokens, targets, weights)
        losses.append(loss)
        c1, c2 = 1 - BETA1 ** step, 1 - BETA2 ** step
        for name in P:
            g = G[name]
            m[name] = BETA1 * m[name] + (1 - BETA1) * g
            v2[name] = BETA2 * v2[name] + (1 - BETA2) * g * g
            wd = WEIGHT_DECAY if kinds[name] == "matrix" else 0.0
            P[name] = P[name] - LR * ((m[name] / c1) / (np.sqrt(v2[name] / c2) + ADAM_EPS) + wd * P[name])
    return np.array(losses), P


def generate(tag, c):
    rng = np.random.default_rng(c["seed"])
    P = init_parameters(c, rng)
    B, T, V = c["B"], c["T"], c["V"]
    tokens = rng.integers(0, V, size=(B, T)).astype(np.int32)
    targets = np.concatenate([tokens[:, 1:], rng.integers(0, V, size=(B, 1))], axis=1).astype(np.int32)
    targets[0, 2] = -1                      # ignored positions
    targets[B - 1, T - 1] = -1
    weights = f32(rng.uniform(0.5, 1.5, size=(B, T)))
    weights[0, 0] = 0.0                     # masked positions (target kept, weight 0)
    weights[1, 3] = 0.0

    loss, logits, G = loss_and_gradients(P, c, tokens, targets, weights)
    worst = check_gradients(P, c, tokens, targets, weights, G, np.random.default_rng(0))
    losses, final = adamw(P, c, tokens, targets, weights)

    out = {name: value.astype(np.float32) for name, value in P.items()}
    out["inputs.tokens"] = tokens
    out["inputs.targets"] = targets
    out["inputs.weights"] = weights.astype(np.float32)
    out["logits"] = logits.reshape(B * T, V).astype(np.float32)
    out["loss"] = np.array(loss, dtype=np.float32)
    for name, g in G.items():
        out["grad." + name] = g.astype(np.float32)
    out["adamw.losses"] = losses.astype(np.float32)
    for name, value in final.items():
        out["adamw.final." + name] = value.astype(np.float32)
    metadata = {
        "config": config_json(c), "batch": f"{B}x{T}", "lr": repr(LR), "steps": str(STEPS),
        "adamw": json.dumps({"beta1": BETA1, "beta2": BETA2, "eps": ADAM_EPS, "weight_decay": WEIGHT_DECAY}),
        "generator": "Tests/ModelTests/Golden/reference.py", "numpy": np.__version__,
    }
    path = os.path.join(HERE, tag + ".safetensors")
    save_file(out, path, metadata=metadata)
    print(f"{tag}: loss {loss:.6f}, adamw losses {np.round(losses, 6).tolist()}, "
          f"worst finite-difference error {worst:.1e} -> {os.path.relpath(path)}")


if __name__ == "__main__":
    for tag, c in CONFIGS.items():
        generate(tag, c)
