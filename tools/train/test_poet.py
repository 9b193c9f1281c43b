#!/usr/bin/env python3
"""Self-tests of the ARG-Poet twin (tools/train/poet.py; spec/poet.md). No pytest needed.

    /usr/bin/python3 tools/train/test_poet.py [-k SUBSTRING] [-v]

Checks the forward pass against a naive per-position implementation of spec §3 written
from the page (windowed attention that leaves out positions outside the grid, the
masked bit head), the code length of §4 (sum over the four steps of the per-bit cross
entropy), the group order (a later step's token never changes an earlier step's code
length), the chooser of §5 (greedy against brute force, sampling frequencies, seeded
determinism, splitmix64), the model file of §2 (round trip, rejections) and a few
training steps. Prints 'N passed, M failed'; exits 1 on failure.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time
import traceback

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import poet  # noqa: E402
import safetensors_io as st  # noqa: E402

TMP = None
META = {"name": "poet-test", "tokenizer_id": "70f1c345cac1a9c1", "tokenizer_name": "arg-s8"}


def tiny(B=18, seed=0, **over):
    cfg = dict(token_bits=B, dim=16, layers=2, heads=2, mlp=24, context=2, window=3, anchor_max=3)
    cfg.update(over)
    torch.manual_seed(seed)
    m = poet.Poet(poet.default_config(**cfg))
    with torch.no_grad():  # random weights everywhere, the bit-to-bit ones included
        for name, p in m.named_parameters():
            p.add_(torch.randn_like(p) * 0.3)
    m.eval()
    return m


def rand_inputs(m, N=2, H=5, W=6, seed=1, task=None):
    g = torch.Generator().manual_seed(seed)
    top = 1 << m.B
    tok = torch.randint(0, top, (N, H, W), generator=g)
    past = torch.randint(0, top, (N, m.K, H, W), generator=g)
    pres = torch.rand(N, m.K, generator=g) > 0.3
    anchor = torch.randint(0, top, (N, H, W), generator=g)
    adist = torch.randint(0, m.D + 1, (N,), generator=g)
    known = torch.rand(N, H, W, generator=g) > 0.5
    task = torch.randint(0, 4, (N,), generator=g) if task is None else torch.full((N,), task)
    key = torch.randint(0, 2, (N,), generator=g)
    return dict(cur=tok, known=known, past=past, past_present=pres, anchor=anchor,
                anchor_dist=adist, task=task, key=key)


def naive_hidden(m, n, I):
    """Spec §3.1-§3.4 for sample n, one position at a time, float64."""
    T = {k: v.double() for k, v in m.tensors().items()}
    c = m.config
    B, d, h, w = c["token_bits"], c["dim"], c["heads"], c["window"]
    H, W = I["cur"].shape[1:]
    r, dh = (w - 1) // 2, d // h

    def s(v):
        return torch.tensor([2.0 * ((int(v) >> i) & 1) - 1.0 for i in range(B)], dtype=torch.float64)

    def ln(x, name):
        mu = x.mean()
        var = ((x - mu) ** 2).mean()
        return (x - mu) / math.sqrt(var + c["ln_eps"]) * T[name + ".weight"] + T[name + ".bias"]

    x = torch.zeros(H, W, d, dtype=torch.float64)
    for y in range(H):
        for xx in range(W):
            e = T["in.task"][int(I["task"][n])] + T["in.key"][int(I["key"][n])]
            if I["known"][n, y, xx]:
                e = e + T["in.cur"] @ s(I["cur"][n, y, xx]) + T["in.cur_bias"]
            else:
                e = e + T["in.mask"]
            for k in range(c["context"]):
                if I["past_present"][n, k]:
                    e = e + T[f"in.past.{k}"] @ s(I["past"][n, k, y, xx])
                else:
                    e = e + T["in.past_none"][k]
            j = int(I["anchor_dist"][n])
            if j > 0:
                e = e + T["in.anchor"] @ s(I["anchor"][n, y, xx]) + T["in.anchor_dist"][j - 1]
            else:
                e = e + T["in.anchor_none"]
            x[y, xx] = e
    for i in range(c["layers"]):
        p = f"blk.{i}."
        a = torch.stack([torch.stack([ln(x[y, xx], p + "ln1") for xx in range(W)]) for y in range(H)])
        qkv = a @ T[p + "attn.qkv.weight"].T + T[p + "attn.qkv.bias"]
        q, k, v = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
        o = torch.zeros(H, W, d, dtype=torch.float64)
        for y in range(H):
            for xx in range(W):
                for hd in range(h):
                    sl = slice(hd * dh, (hd + 1) * dh)
                    sc, vs = [], []
                    for dy in range(-r, r + 1):
                        for dx in range(-r, r + 1):
                            yy, x2 = y + dy, xx + dx
                            if 0 <= yy < H and 0 <= x2 < W:
                                sc.append(float(q[y, xx, sl] @ k[yy, x2, sl]) / math.sqrt(dh)
                                          + float(T[p + "attn.rel"][hd, dy + r, dx + r]))
                                vs.append(v[yy, x2, sl])
                    pr = torch.softmax(torch.tensor(sc, dtype=torch.float64), 0)
                    o[y, xx, sl] = sum(pr[t] * vs[t] for t in range(len(vs)))
        x = x + o @ T[p + "attn.out.weight"].T + T[p + "attn.out.bias"]
        for y in range(H):
            for xx in range(W):
                z = ln(x[y, xx], p + "ln2")
                z = z @ T[p + "mlp.fc1.weight"].T + T[p + "mlp.fc1.bias"]
                z = 0.5 * z * (1 + torch.erf(z / math.sqrt(2)))
                x[y, xx] = x[y, xx] + z @ T[p + "mlp.fc2.weight"].T + T[p + "mlp.fc2.bias"]
    out = torch.stack([torch.stack([ln(x[y, xx], "out.ln") for xx in range(W)]) for y in range(H)])
    return out, T


def naive_logits(T, hvec, target, B):
    """§3.5 bit by bit."""
    out = []
    for i in range(B):
        lg = float(T["out.bits.weight"][i] @ hvec + T["out.bits.bias"][i])
        for j in range(i):
            lg += float(T["out.bits.ar"][i, j]) * (2.0 * ((int(target) >> j) & 1) - 1.0)
        out.append(lg)
    return out


# ---------------------------------------------------------------------------


def test_forward_matches_naive_spec():
    m = tiny(window=3)
    for task in (0, 3):
        I = rand_inputs(m, N=2, H=4, W=5, task=task)
        target = torch.randint(0, 1 << m.B, I["cur"].shape, generator=torch.Generator().manual_seed(9))
        with torch.no_grad():
            lg = m(**I, target=target)
        for n in range(2):
            hn, T = naive_hidden(m, n, I)
            for y, x in ((0, 0), (1, 3), (3, 4), (2, 1)):
                ref = naive_logits(T, hn[y, x], target[n, y, x], m.B)
                err = max(abs(a - b) for a, b in zip(ref, lg[n, y, x].tolist()))
                assert err < 1e-4, f"task {task} sample {n} ({y},{x}): max |logit diff| {err}"


def test_window_larger_than_grid():
    # w = 5 on a 3x2 grid: every position sees the whole grid, nothing outside it
    m = tiny(window=5)
    I = rand_inputs(m, N=1, H=3, W=2)
    with torch.no_grad():
        lg = m(**I)
    hn, T = naive_hidden(m, 0, I)
    ref = naive_logits(T, hn[2, 1], I["cur"][0, 2, 1], m.B)
    assert max(abs(a - b) for a, b in zip(ref, lg[0, 2, 1].tolist())) < 1e-4


def test_blocked_attention_equals_dense():
    for H, W, w in ((11, 19, 5), (9, 8, 7), (3, 20, 3)):
        m = tiny(window=w)
        I = rand_inputs(m, N=2, H=H, W=W)
        with torch.no_grad():
            a = m.hidden(**I, blocked=False)
            b = m.hidden(**I, blocked=True)
        assert (a - b).abs().max() < 1e-4, (H, W, w, float((a - b).abs().max()))


def test_unknown_token_value_is_ignored():
    m = tiny()
    I = rand_inputs(m)
    J = dict(I)
    J["cur"] = torch.where(I["known"], I["cur"], (I["cur"] + 777) % (1 << m.B))
    with torch.no_grad():
        assert torch.equal(m.hidden(**I), m.hidden(**J))


def test_group_map():
    g = poet.group_map(3, 4)
    # g(y, x) = [0, 3, 2, 1][(y mod 2)*2 + (x mod 2)]
    assert g.tolist() == [[0, 3, 0, 3], [2, 1, 2, 1], [0, 3, 0, 3]], g.tolist()


def test_code_length_is_sum_of_step_cross_entropies():
    m = tiny()
    I = rand_inputs(m, N=2, H=5, W=6)
    tok = I["cur"]
    tk = I["known"] & (torch.rand(tok.shape, generator=torch.Generator().manual_seed(3)) > 0.5)
    args = dict(past=I["past"], past_present=I["past_present"], anchor=I["anchor"],
                anchor_dist=I["anchor_dist"], task=I["task"], key=I["key"])
    with torch.no_grad():
        bits = poet.code_length(m, tok, tk, **args)
    grp = poet.group_map(5, 6)
    total = 0.0
    for g in range(4):
        known = tk | (grp < g)
        with torch.no_grad():
            lg = m(tok, known, **args, target=tok).double()
        for n in range(2):
            for y in range(5):
                for x in range(6):
                    if grp[y, x] != g or tk[n, y, x]:
                        continue
                    v = int(tok[n, y, x])
                    lp = 0.0
                    for i in range(m.B):
                        p1 = 1.0 / (1.0 + math.exp(-float(lg[n, y, x, i])))
                        lp += math.log2(p1 if (v >> i) & 1 else 1.0 - p1)
                    total -= lp
    assert abs(float(bits.double().sum()) - total) < 1e-3 * max(1.0, total), (float(bits.sum()), total)
    assert float(bits[tk].abs().sum()) == 0.0, "task-known positions must cost nothing"
    # group_loss with g = 0 for both samples covers exactly the group-0 positions
    loss, cnt = poet.group_loss(m, tok, tk, torch.zeros(2, dtype=torch.int64), **args)
    sel = (grp == 0) & ~tk
    assert int(cnt) == int(sel.sum())
    assert abs(float(loss) - float(bits[sel].mean())) < 1e-4


def test_later_groups_do_not_change_earlier_ones():
    m = tiny()
    I = rand_inputs(m, N=1, H=6, W=7)
    tok = I["cur"]
    args = dict(past=I["past"], past_present=I["past_present"], task=0, key=0)
    grp = poet.group_map(6, 7)
    with torch.no_grad():
        base = poet.code_length(m, tok, None, **args)
        for g in range(1, 4):
            changed = torch.where(grp == g, (tok + 4321) % (1 << m.B), tok)
            b2 = poet.code_length(m, changed, None, **args)
            early = (grp < g).expand_as(base)
            assert torch.allclose(base[early], b2[early], atol=1e-6), f"group {g} leaked into earlier steps"
            later = (grp > g).expand_as(base)
            if g < 3:
                assert not torch.allclose(base[later], b2[later]), f"group {g} does not reach later steps"
        # the past is read
        p2 = I["past"].clone()
        p2[:, 0] = (p2[:, 0] + 99) % (1 << m.B)
        pres = torch.ones_like(I["past_present"])
        b3 = poet.code_length(m, tok, None, p2, pres)
        b4 = poet.code_length(m, tok, None, I["past"], pres)
        assert not torch.allclose(b3, b4)


def test_splitmix64_and_uniform():
    # the first output of the reference splitmix64 generator seeded with 0
    assert poet.splitmix64(0) == 0xE220A8397B1DCDAF
    arr = poet.splitmix64(np.array([0, 1, 2**64 - 1], dtype=np.uint64))
    assert [int(v) for v in arr] == [poet.splitmix64(0), poet.splitmix64(1), poet.splitmix64(2**64 - 1)]
    u = poet.uniform(7, 3, np.array([0, 1, 2]), np.array([5, 5, 5]), 1)
    idx = ((3 * 65536 + 1) * 65536 + 5) * 8 + 1
    z = poet.splitmix64(7 ^ poet.splitmix64(idx))
    assert u[1] == (z >> 11) * 2.0 ** -53
    assert np.all((u >= 0) & (u < 1)) and len(set(u.tolist())) == 3


def test_greedy_is_groupwise_argmax():
    m = tiny(B=8)  # groups of 6 and 2 bits
    h = torch.randn(20, m.d, generator=torch.Generator().manual_seed(4))
    tok = poet.choose_tokens(m, h)
    T = {k: v.double() for k, v in m.tensors().items()}
    for p in range(20):
        # group 0: maximise over 64 values, then group 1 given it
        def logp(value, nbits_from, n, prefix):
            lp = 0.0
            for i in range(nbits_from, nbits_from + n):
                full = prefix | (value << nbits_from)
                lg = naive_logits(T, h[p].double(), full, m.B)[i]
                p1 = 1 / (1 + math.exp(-lg))
                lp += math.log(p1 if (full >> i) & 1 else 1 - p1)
            return lp
        g0 = max(range(64), key=lambda v: (logp(v, 0, 6, 0), -v))
        g1 = max(range(4), key=lambda v: (logp(v, 6, 2, g0), -v))
        assert int(tok[p]) == g0 | (g1 << 6), (p, int(tok[p]), g0 | (g1 << 6))


def test_sampling_frequencies_and_determinism():
    m = tiny(B=3)  # one group of 8 values
    h = torch.randn(1, m.d, generator=torch.Generator().manual_seed(5)).expand(6000, m.d)
    ys, xs = np.zeros(6000, np.int64), np.arange(6000)
    T = {k: v.double() for k, v in m.tensors().items()}
    probs = []
    for v in range(8):
        lg = naive_logits(T, h[0].double(), v, 3)
        probs.append(math.prod(1 / (1 + math.exp(-l)) if (v >> i) & 1 else 1 - 1 / (1 + math.exp(-l))
                               for i, l in enumerate(lg)))
    tok = poet.choose_tokens(m, h, temperature=1.0, seed=11, t=2, ys=ys, xs=xs)
    freq = np.bincount(tok.numpy(), minlength=8) / 6000
    assert np.abs(freq - np.array(probs)).max() < 0.03, (freq, probs)
    again = poet.choose_tokens(m, h, temperature=1.0, seed=11, t=2, ys=ys, xs=xs)
    assert torch.equal(tok, again)
    other = poet.choose_tokens(m, h, temperature=1.0, seed=12, t=2, ys=ys, xs=xs)
    assert not torch.equal(tok, other)
    # top-k 2: only the two most probable values; top-k 1 and a tiny top-p: greedy
    top2 = set(np.argsort(-np.array(probs), kind="stable")[:2].tolist())
    k2 = poet.choose_tokens(m, h, temperature=1.0, top_k=2, seed=11, t=2, ys=ys, xs=xs)
    assert set(k2.tolist()) <= top2 and len(set(k2.tolist())) == 2
    greedy = poet.choose_tokens(m, h[:5])
    for kw in ({"top_k": 1}, {"top_p": 1e-9}):
        s = poet.choose_tokens(m, h[:5], temperature=0.7, seed=3, ys=ys[:5], xs=xs[:5], **kw)
        assert torch.equal(s, greedy), kw


def test_generate_frame_deterministic_and_keeps_known():
    m = tiny()
    I = rand_inputs(m, N=1, H=5, W=6)
    kw = dict(past=I["past"][0], past_present=I["past_present"][0], task=1, key=0)
    known = torch.zeros(5, 6, dtype=torch.bool)
    known[:, :3] = True
    a = poet.generate_frame(m, I["cur"][0], known, temperature=0.9, top_k=50, seed=4, t=1, **kw)
    b = poet.generate_frame(m, I["cur"][0], known, temperature=0.9, top_k=50, seed=4, t=1, **kw)
    assert torch.equal(a, b)
    assert torch.equal(a[:, :3], I["cur"][0][:, :3])
    g = poet.generate_frame(m, I["cur"][0], known, **kw)
    # greedy decoding reproduces itself under teacher forcing: every chosen token is the
    # greedy choice for the hidden state of its step
    grp = poet.group_map(5, 6)
    for step in range(4):
        kn = known | (grp < step)
        with torch.no_grad():
            h = m.hidden(g[None], kn[None], I["past"], I["past_present"], None, None, 1, 0)[0]
        sel = (grp == step) & ~known
        ys, xs = torch.nonzero(sel, as_tuple=True)
        assert torch.equal(poet.choose_tokens(m, h[ys, xs]), g[ys, xs])


def test_file_round_trip_and_rejections():
    m = tiny()
    path = os.path.join(TMP, "p.safetensors")
    poet.save_poet(path, m, META)
    back, meta = poet.load_poet(path)
    assert meta["format"] == "arg-poet" and meta["format_version"] == "1"
    assert meta["tokenizer_id"] == META["tokenizer_id"]
    assert json.loads(meta["config"]) == dict(m.config)
    I = rand_inputs(m)
    with torch.no_grad():
        assert torch.equal(m(**I), back(**I))
    # F16
    p16 = os.path.join(TMP, "p16.safetensors")
    poet.save_poet(p16, m, META, dtype="F16")
    b16, _ = poet.load_poet(p16)
    with torch.no_grad():
        assert (m(**I) - b16(**I)).abs().max() < 0.1
    tensors, md = st.read_safetensors(path)

    def bad(edit, contains):
        t2, m2 = dict(tensors), dict(md)
        edit(t2, m2)
        p = os.path.join(TMP, "bad.safetensors")
        st.write_safetensors(p, t2, m2)
        try:
            poet.load_poet(p)
        except poet.PoetError as e:
            assert contains in str(e), (contains, str(e))
            return
        raise AssertionError(f"accepted a file that should fail with {contains!r}")

    bad(lambda t, m_: t.pop("blk.1.attn.rel"), "'blk.1.attn.rel' is missing")
    bad(lambda t, m_: t.__setitem__("extra", np.zeros(2, np.float32)), "unexpected tensor 'extra'")
    bad(lambda t, m_: t.__setitem__("in.mask", np.zeros(3, np.float32)), "'in.mask' has shape")
    bad(lambda t, m_: t.__setitem__("out.bits.ar", np.ones((18, 18), np.float32)), "on or above the diagonal")
    bad(lambda t, m_: m_.__setitem__("format", "arg-model"), "format")
    bad(lambda t, m_: m_.pop("tokenizer_id"), "tokenizer_id")
    bad(lambda t, m_: m_.__setitem__("config", json.dumps(dict(m.config, window=4))), "odd")
    bad(lambda t, m_: m_.__setitem__("config", json.dumps(dict(m.config, heads=3))), "multiple of heads")
    try:
        poet.save_poet(path, m, dict(META, tokenizer_id="XYZ"))
        raise AssertionError("bad tokenizer_id accepted")
    except poet.PoetError:
        pass


def test_training_steps_lower_the_loss():
    import poet_train
    d = os.path.join(TMP, "data")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(0)
    # a clip whose tokens repeat the previous latent frame, with a few random changes
    T, H, W = 12, 8, 8
    tok = np.zeros((T, H, W), np.uint32)
    tok[0] = rng.integers(0, 1 << 18, (H, W))
    for t in range(1, T):
        tok[t] = tok[t - 1]
        ch = rng.random((H, W)) < 0.1
        tok[t][ch] = rng.integers(0, 1 << 18, int(ch.sum()))
    key = (np.arange(T) % 8 == 0).astype(np.uint8)
    for split in ("train", "val"):
        np.savez(os.path.join(d, f"syn_{split}.npz"), tokens=tok, key=key, clip="syn", split=split)
    out = os.path.join(TMP, "ckpt")
    args = ["--data", d, "--out-dir", out, "--steps", "30", "--batch", "4", "--crop", "6x6",
            "--dim", "32", "--layers", "1", "--heads", "2", "--mlp", "32", "--lr", "3e-3",
            "--warmup", "5", "--log-every", "1000", "--val-frames", "2", "--ema", "0.5"]
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        assert poet_train.main(args) == 0
        ck = torch.load(os.path.join(out, "last.pt"), map_location="cpu")
        assert ck["step"] == 30
        cfg = ck["config"]
        fresh = poet.Poet(cfg)
        vb0 = poet_train.val_bits(fresh, poet_train.val_frames(d, cfg, 2))
        assert ck["val_bits"] < vb0 - 2.0, (ck["val_bits"], vb0)
        # resume continues from the checkpoint
        assert poet_train.main(args[:5] + ["40"] + args[6:]) == 0
    ck = torch.load(os.path.join(out, "last.pt"), map_location="cpu")
    assert ck["step"] == 40


def main():
    global TMP
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", default="")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f) and args.k in n]
    passed = failed = 0
    t_all = time.time()
    with tempfile.TemporaryDirectory(prefix="arg-poet-") as tmp:
        TMP = tmp
        for name, fn in tests:
            t0 = time.time()
            try:
                fn()
                passed += 1
                if args.v:
                    print(f"ok    {name} ({time.time() - t0:.2f} s)")
            except Exception:
                failed += 1
                print(f"FAIL  {name}")
                traceback.print_exc()
    print(f"{passed} passed, {failed} failed ({time.time() - t_all:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
