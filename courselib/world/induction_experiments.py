import sys, time, math, torch, torch.nn.functional as F
sys.path.insert(0, "/tmp/ind"); sys.path.insert(0, "/work/main")
import ti
import argparse
p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=12000)
p.add_argument("--d", type=int, default=64)
p.add_argument("--heads", type=int, default=4)
p.add_argument("--tokens", type=int, default=256)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--bs", type=int, default=32)
p.add_argument("--seq", type=int, default=64)
p.add_argument("--rf", type=float, default=0.5)
p.add_argument("--wd", type=float, default=0.01)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--save", default="")
p.add_argument("--data", default="orig")
p.add_argument("--untied", type=int, default=0)
p.add_argument("--const", type=int, default=1)
a = p.parse_args()
ti.TOKENS_END = 2 + a.tokens; ti.REPEAT_FRACTION = a.rf
ti.CONFIG.update(n_embd=a.d, n_head=a.heads)
torch.manual_seed(a.seed); torch.set_num_threads(1)
if a.untied:
    _orig = ti.GPT2Config
    def _cfg(**kw):
        kw["tie_word_embeddings"] = False
        return _orig(**kw)
    ti.GPT2Config = _cfg
model = ti.new_model(1024)
print("tied", model.lm_head.weight is model.transformer.wte.weight, flush=True)
trainable = [q for q in model.parameters() if q.requires_grad]
params = dict(model.named_parameters())
opt = torch.optim.AdamW(trainable, lr=a.lr, betas=(0.9, 0.98), weight_decay=a.wd)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100))
g = torch.Generator().manual_seed(a.seed)
def shift_batch(g, bs, T, vocab):
    ids = torch.randint(ti.FIRST_ID, ti.TOKENS_END, (bs, T), generator=g); ids[:, 0] = 0
    copied = torch.zeros(bs, T, dtype=torch.bool)
    r = lambda lo, hi: int(torch.randint(lo, hi + 1, (), generator=g))
    for row in range(bs):
        if row % 2 == 0:
            n = r(4, (T - 1) // 2); src = r(1, T - 2 * n); dst = src + n
            ids[row, dst:dst+n] = ids[row, src:src+n]; copied[row, dst:dst+n] = True
        else:
            for _ in range(r(1, 3)):
                n = r(3, 16); src = r(1, T - 2 * n); dst = r(src + n, T - n)
                ids[row, dst:dst+n] = ids[row, src:src+n]; copied[row, dst:dst+n] = True
    return ids, copied
def boot_batch(g, bs, T, vocab):
    ids = torch.randint(ti.FIRST_ID, ti.TOKENS_END, (bs, T), generator=g); ids[:, 0] = 0
    copied = torch.zeros(bs, T, dtype=torch.bool)
    r = lambda lo, hi: int(torch.randint(lo, hi + 1, (), generator=g))
    for row in range(bs):
        kind = row % 4
        if kind < 2:
            n = r(6, (T - 1) // 2)
            ids[row, 1 + n : 1 + 2 * n] = ids[row, 1 : 1 + n]; copied[row, 1 + n : 1 + 2 * n] = True
        elif kind == 2:
            for _ in range(r(1, 3)):
                n = r(3, 16); src = r(1, T - 2 * n); dst = r(src + n, T - n)
                ids[row, dst:dst+n] = ids[row, src:src+n]; copied[row, dst:dst+n] = True
        else:
            n = r(8, 24); s0 = r(1, T - n)
            if TRIPLE:
                for t in range(s0 + 2, s0 + n, 3):
                    ids[row, t] = ids[row, t - 2]; copied[row, t] = True
            else:
                ab = ids[row, s0:s0+2].clone()
                ids[row, s0:s0+n] = ab.repeat(n // 2 + 1)[:n]; copied[row, s0+2:s0+n] = True
    return ids, copied
TRIPLE = a.data == "triple"
if a.data == "text":
    from courselib.world import load_split, format_dialogue
    from transformers import AutoTokenizer
    from courselib.world.tokenizer import TOKENIZER_DIR
    _tok = AutoTokenizer.from_pretrained(TOKENIZER_DIR, local_files_only=True)
    _recs = load_split("train")[:3000]
    import inspect
    _texts = [format_dialogue(r["prompt"], r["response"]) for r in _recs]
    STREAM = torch.tensor([t for x in _texts for t in _tok(x)["input_ids"] + [0]])
    print("text stream", len(STREAM), flush=True)
    def text_batch(g, bs, T, vocab):
        ids, copied = boot_batch(g, bs, T, vocab)
        for row in range(3, bs, 4):
            s0 = int(torch.randint(0, len(STREAM) - T, (), generator=g))
            ids[row, 1:] = STREAM[s0:s0 + T - 1]; copied[row, 1:] = True
        return ids, copied

if a.data in ("boot", "triple"):
    ti.training_batch = boot_batch
if a.data == "text":
    ti.training_batch = text_batch
def tri_shift_batch(g, bs, T, vocab):
    ids = torch.randint(ti.FIRST_ID, ti.TOKENS_END, (bs, T), generator=g); ids[:, 0] = 0
    copied = torch.zeros(bs, T, dtype=torch.bool)
    r = lambda lo, hi: int(torch.randint(lo, hi + 1, (), generator=g))
    for row in range(bs):
        if row % 2 == 0:
            n = r(4, (T - 1) // 2); src = r(1, T - 2 * n); dst = src + n
            ids[row, dst:dst+n] = ids[row, src:src+n]; copied[row, dst:dst+n] = True
        else:
            off = r(0, 2)
            for t in range(2 + off, T, 3):
                ids[row, t] = ids[row, t - 2]; copied[row, t] = True
    return ids, copied
def multi_batch(g, bs, T, vocab):
    ids = torch.randint(ti.FIRST_ID, ti.TOKENS_END, (bs, T), generator=g); ids[:, 0] = 0
    copied = torch.zeros(bs, T, dtype=torch.bool)
    for row in range(bs):
        p = int(torch.randint(4, 32, (), generator=g))
        for t in range(1 + p, T):
            ids[row, t] = ids[row, t - p]
        copied[row, 1 + p:] = True
    return ids, copied
if a.data == "multi":
    ti.training_batch = multi_batch
if a.data == "trishift":
    ti.training_batch = tri_shift_batch
if a.data == "shift":
    ti.training_batch = shift_batch
ev = ti.repeated_tokens(1234, 50, 30, 1024)
t0 = time.time()
for step in range(a.steps):
    ids, copied = ti.training_batch(g, a.bs, a.seq, 1024)
    scored = copied[:, 1:] | (torch.rand(copied[:, 1:].shape, generator=g) < 0.2)
    hidden = ti.fast_hidden(params, ids, a.heads)[:, :-1][scored]
    loss = F.cross_entropy(hidden @ (params["lm_head.weight"] if a.untied else params["transformer.wte.weight"]).T, ids[:, 1:][scored])
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(trainable, 1.0); opt.step(); sched.step()
    if step % 500 == 0 or step == a.steps - 1:
        model.eval(); m = ti.measure(model, ev); model.train()
        best = max(max(h) for h in m["induction"]); bp = max(max(h) for h in m["prev_token"])
        print(f"{step} {time.time()-t0:.0f}s loss {loss.item():.3f} c1 {m['loss_first_copy']:.3f} c2 {m['loss_second_copy']:.3f} ind {best:.3f} prev {bp:.3f}", flush=True)

if a.save:
    model.save_pretrained(a.save)
