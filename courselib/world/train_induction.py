"""Train the 2-layer attention-only model of week 9: ``python -m courselib.world.train_induction``.

The small world's chat models have no induction heads (the loss on the second copy of a repeated
random sequence equals the first), so week 9 ships a model built to have one:

- **Architecture**: a ``GPT2LMHeadModel`` (so that ``transformers`` and TransformerLens's
  ``TransformerBridge`` load it like the other shipped models) with 2 layers, 4 heads, d_model 64,
  context 64, the world's 1,024-token vocabulary, and **no MLPs**: the MLP weights and biases are
  zero and frozen, so every block adds only its attention output to the residual stream
  (GELU(0) = 0). Tied input/output embeddings.
- **Data**: random token sequences (ids 2..257, uniform, no structure to learn) after BOS (id 0),
  each repeating a random block ``r`` with a random period ``p`` in 4..31 until the context is full
  (``[BOS, r, r, r, …]``). The period varies from sequence to sequence, so no fixed positional
  offset predicts the next token: the general solution is induction (find the earlier occurrence
  of the current token, copy what followed it).
- **A curriculum for layer 0**: during the first ``LAYER0_WINDOW_STEPS`` steps, layer 0 may attend
  only to BOS, the previous token and itself (a local attention mask in ``fast_hidden``); after
  that the mask is lifted and the model trains as the plain GPT-2 it is saved as. Without the
  window, every run tried formed other circuits that also predict the repeat (layer-1 heads
  reading the token *two* after the earlier occurrence through a layer-0 head, or positional
  heads; see *What did not work* below); with it, layer 0 can only become a previous-token
  head, and layer 1 learns the textbook induction head (K-composition), which survives once the
  window is lifted.
- **Training**: next-token loss on every copied token and a random 20% of the others (the
  unembedding dominates the cost; unpredictable tokens only teach a uniform guess); AdamW
  (lr 1e-3, betas 0.9/0.98, weight decay 0.01), 100 warmup steps then a constant rate, gradient
  clipping at 1, batch 32 × 64 tokens, seed 0, one CPU thread.

**What did not work** (19 runs of 4,000–12,000 steps, 2026-11-27; read with attention by relative
offset): without the window, the second copy always became predictable (loss 0.1–0.8 nats against
5.5 on the first copy) while the best induction score stayed 0.04–0.10. Alternating-token rows
(x_{t+1} = x_{t−1}) and dense repeats made layer-1 heads attend to the token *two* after the
earlier occurrence (offset n − 2), reading the next token from a layer-0 head there; rows of
``[BOS, r, r]`` with a random ``|r|`` let layer 0 learn long-range positional heads; sparse
"u v u" triples gave a previous-token head (0.99) but no induction within 6,000 steps; tied
embeddings also produced a duplicate-token head; one head per layer or an untied unembedding did
not change this.

The script writes ``datasets/models/attn-only-2l/``: weights (safetensors), config, the world's
tokenizer files, ``eval_results.json`` and a model card (``README.md``) with the measured numbers:
the loss on the first and second copy of ``[BOS, r, r]`` and every head's induction score
(Olsson et al. 2022), previous-token score, and TransformerLens's head-detection scores.
It is not run by the notebooks or the tests (a test re-measures a few numbers of the card).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

from courselib.world.tokenizer import TOKENIZER_DIR

OUT_DIR = Path(__file__).resolve().parents[2] / "datasets" / "models" / "attn-only-2l"
SEED = 0
CONFIG = dict(n_positions=64, n_embd=64, n_layer=2, n_head=4, n_inner=4)
LOSS_ON_RANDOM = 0.2
TRAIN = dict(steps=5000, batch_size=32, lr=1e-3, warmup=100, seq_len=64)
LAYER0_WINDOW_STEPS = 2500  # layer 0 sees only BOS, t - 1 and t during these first steps
PERIODS = (4, 31)  # the repeat period of each training sequence, uniform in this range
FIRST_ID = 2  # ids 0 (BOS/EOS) and 1 (pad) are special
TOKENS_END = 258  # random tokens are ids FIRST_ID .. TOKENS_END - 1 (256 of them)
EVAL = dict(n_seqs=200, rep_len=30, seed=1234)


def new_model(vocab_size: int) -> GPT2LMHeadModel:
    """A 2-layer GPT-2 whose MLPs are zero and frozen: an attention-only transformer."""
    config = GPT2Config(
        vocab_size=vocab_size,
        **CONFIG,
        attn_pdrop=0.0,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=1,
        attn_implementation="eager",
    )
    model = GPT2LMHeadModel(config)
    for block in model.transformer.h:
        for p in block.mlp.parameters():
            p.data.zero_()
            p.requires_grad_(False)
    return model


def fast_hidden(
    params: dict[str, torch.Tensor], ids: torch.Tensor, n_head: int, layer0_window: bool = False
) -> torch.Tensor:
    """The final hidden states (after ``ln_f``) of the attention-only GPT-2, in plain torch.

    Same computation as ``GPT2LMHeadModel`` with zero MLPs, with far fewer small operations (training
    on a busy 2-core machine is dominated by per-operation overhead). ``params`` are the model's own
    parameters, so training through this function trains the model. ``layer0_window=True`` lets
    layer 0 attend only to BOS, the previous token and the token itself (the curriculum).
    """
    B, T = ids.shape
    x = params["transformer.wte.weight"][ids] + params["transformer.wpe.weight"][:T]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    local = causal & ~torch.ones(T, T, dtype=torch.bool).tril(-2)
    local[:, 0] = True
    layer = 0
    while f"transformer.h.{layer}.ln_1.weight" in params:
        p = lambda name, layer=layer: params[f"transformer.h.{layer}.{name}"]  # noqa: E731
        h = F.layer_norm(x, x.shape[-1:], p("ln_1.weight"), p("ln_1.bias"), 1e-5)
        q, k, v = (h @ p("attn.c_attn.weight") + p("attn.c_attn.bias")).view(B, T, 3, n_head, -1).permute(2, 0, 3, 1, 4)
        mask = local if (layer == 0 and layer0_window) else causal
        z = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + z.transpose(1, 2).reshape(B, T, -1) @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        layer += 1
    return F.layer_norm(x, x.shape[-1:], params["transformer.ln_f.weight"], params["transformer.ln_f.bias"], 1e-5)


def training_batch(
    g: torch.Generator, batch_size: int, seq_len: int, vocab_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``[BOS, r, r, r, …]``: a random block ``r`` repeated with a random period until the context is full.

    Returns the ids [B, T] and a bool mask [B, T] of the tokens that are copies (predictable).
    """
    ids = torch.randint(FIRST_ID, TOKENS_END, (batch_size, seq_len), generator=g)
    ids[:, 0] = 0
    copied = torch.zeros(batch_size, seq_len, dtype=torch.bool)
    for row in range(batch_size):
        period = int(torch.randint(PERIODS[0], PERIODS[1] + 1, (), generator=g))
        for t in range(1 + period, seq_len):
            ids[row, t] = ids[row, t - period]
        copied[row, 1 + period :] = True
    return ids, copied


def repeated_tokens(seed: int, n_seqs: int, rep_len: int, vocab_size: int) -> torch.Tensor:
    """``[BOS, r, r]`` for ``n_seqs`` random sequences ``r`` of ``rep_len`` tokens: [n_seqs, 1 + 2·rep_len]."""
    g = torch.Generator().manual_seed(seed)
    r = torch.randint(FIRST_ID, TOKENS_END, (n_seqs, rep_len), generator=g)
    return torch.cat([torch.zeros(n_seqs, 1, dtype=torch.long), r, r], dim=1)


@torch.no_grad()
def measure(model: GPT2LMHeadModel, ids: torch.Tensor) -> dict[str, object]:
    """Loss on each copy of ``[BOS, r, r]``, and every head's induction and previous-token scores."""
    n = (ids.shape[1] - 1) // 2
    out = model(ids, output_attentions=True)
    nll = F.cross_entropy(out.logits[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none")  # [B, 2n]
    # nll[:, t] is the loss of predicting token t + 1; the first copy is tokens 1..n (skip 1: unpredictable)
    first, second = nll[:, 1:n].mean().item(), nll[:, n:].mean().item()
    q = torch.arange(n + 1, 2 * n + 1)  # queries in the second copy
    induction = [a[:, :, q, q - n + 1].mean(dim=(0, 2)).tolist() for a in out.attentions]
    t = torch.arange(1, ids.shape[1])
    prev = [a[:, :, t, t - 1].mean(dim=(0, 2)).tolist() for a in out.attentions]
    return {"loss_first_copy": first, "loss_second_copy": second, "induction": induction, "prev_token": prev}


def transformer_lens_scores(path: Path, ids: torch.Tensor) -> dict[str, list[list[float]]]:
    """TransformerLens's head-detection scores ("mul") from a ``TransformerBridge``'s own cache.

    ``detect_head`` tokenizes a string; for token ids we run the same steps: the bridge's cached
    pattern, TL's detection pattern for the tokens, TL's ``compute_head_attention_similarity_score``.
    """
    import warnings

    from transformer_lens import head_detector as hd
    from transformer_lens.model_bridge import TransformerBridge

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        bridge = TransformerBridge.boot_transformers(str(path), device="cpu", tokenizer=tok)
        bridge.enable_compatibility_mode(no_processing=True)
        scores = {}
        for kind in ("induction_head", "previous_token_head"):
            detection = getattr(hd, f"get_{kind}_detection_pattern")
            per_seq = []
            for row in ids[:20]:
                with torch.no_grad():
                    _, cache = bridge.run_with_cache(row[None])
                target = detection(row[None].cpu())
                per_seq.append(
                    [
                        [
                            hd.compute_head_attention_similarity_score(
                                cache[f"blocks.{layer}.attn.hook_pattern"][0, head],
                                detection_pattern=target,
                                exclude_bos=False,
                                exclude_current_token=False,
                                error_measure="mul",
                            )
                            for head in range(bridge.cfg.n_heads)
                        ]
                        for layer in range(bridge.cfg.n_layers)
                    ]
                )
            scores[kind] = torch.tensor(per_seq).mean(0).tolist()
    return scores


def history_from_log(path: Path) -> list[dict[str, float]]:
    """The evaluation lines printed during training (for runs whose train_log.json is missing)."""
    rows = []
    for line in path.read_text().splitlines():
        f = line.split()
        if len(f) == 11 and f[0] == "step":
            rows.append(
                {
                    "step": int(f[1]),
                    "train_loss": float(f[3]),
                    "loss_first_copy": float(f[5]),
                    "loss_second_copy": float(f[7]),
                    "best_induction": float(f[10]),
                }
            )
    return rows


def evaluate(out: Path, train_log: dict) -> dict:
    """Measure the saved model, write eval_results.json and the card."""
    model = GPT2LMHeadModel.from_pretrained(out, local_files_only=True, attn_implementation="eager").eval()
    for block in model.transformer.h:  # still exactly zero: attention-only
        assert all(bool((p == 0).all()) for p in block.mlp.parameters())
    eval_ids = repeated_tokens(EVAL["seed"], EVAL["n_seqs"], EVAL["rep_len"], model.config.vocab_size)
    results = {
        "params": sum(p.numel() for p in model.parameters()),
        "trainable_params": sum(p.numel() for n, p in model.named_parameters() if ".mlp." not in n),
        "config": CONFIG,
        "tokens_end": TOKENS_END,
        **train_log,
        "eval": EVAL,
        **measure(model, eval_ids),
        "transformer_lens": transformer_lens_scores(out, eval_ids),
    }
    (out / "eval_results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_card(out, results)
    return results


def main() -> None:
    global TOKENS_END
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=TRAIN["steps"])
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--n-embd", type=int, default=CONFIG["n_embd"])
    parser.add_argument("--lr", type=float, default=TRAIN["lr"])
    parser.add_argument("--tokens-end", type=int, default=TOKENS_END)
    parser.add_argument("--eval-only", action="store_true", help="measure a saved model and write its card")
    parser.add_argument("--history-log", type=Path, help="with --eval-only and no train_log.json: the training stdout")
    args = parser.parse_args()
    TOKENS_END = args.tokens_end
    CONFIG["n_embd"] = args.n_embd
    TRAIN["lr"] = args.lr
    if args.eval_only:
        log_path = args.out / "train_log.json"
        if log_path.exists():
            train_log = json.loads(log_path.read_text())
        else:
            train_log = {
                "train": {
                    **TRAIN,
                    "steps": args.steps,
                    "seed": SEED,
                    "periods": list(PERIODS),
                    "layer0_window_steps": LAYER0_WINDOW_STEPS,
                },
                "train_seconds": None,
                "train_cpu_seconds": None,
                "history": history_from_log(args.history_log),
            }
        evaluate(args.out, train_log)
        return
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER_DIR, local_files_only=True)
    vocab = len(tokenizer)
    model = new_model(vocab)
    trainable = [p for p in model.parameters() if p.requires_grad]
    params = dict(model.named_parameters())
    opt = torch.optim.AdamW(trainable, lr=TRAIN["lr"], betas=(0.9, 0.98), weight_decay=0.01)
    steps, warmup = args.steps, TRAIN["warmup"]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    g = torch.Generator().manual_seed(SEED)
    eval_ids = repeated_tokens(EVAL["seed"], EVAL["n_seqs"], EVAL["rep_len"], vocab)
    history = []
    start, cpu_start = time.time(), time.process_time()
    model.train()
    for step in range(steps):
        ids, copied = training_batch(g, TRAIN["batch_size"], TRAIN["seq_len"], vocab)
        # the loss on every copied token and on a random LOSS_ON_RANDOM of the others (to save compute:
        # the unembedding dominates the cost and unpredictable tokens only teach a uniform guess)
        scored = copied[:, 1:] | (torch.rand(copied[:, 1:].shape, generator=g) < LOSS_ON_RANDOM)
        window = step < LAYER0_WINDOW_STEPS
        hidden = fast_hidden(params, ids, CONFIG["n_head"], layer0_window=window)[:, :-1][scored]
        loss = F.cross_entropy(hidden @ params["transformer.wte.weight"].T, ids[:, 1:][scored])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        sched.step()
        if step % 200 == 0 or step == steps - 1:
            model.eval()
            m = measure(model, eval_ids[:50])
            model.train()
            best = max(max(h) for h in m["induction"])
            history.append(
                {
                    "step": step,
                    "train_loss": loss.item(),
                    **{k: m[k] for k in ("loss_first_copy", "loss_second_copy")},
                    "best_induction": best,
                }
            )
            print(
                f"step {step:5d} loss {loss.item():.3f} copy1 {m['loss_first_copy']:.3f} copy2 {m['loss_second_copy']:.3f} best induction {best:.3f}",
                flush=True,
            )
    wall, cpu = time.time() - start, time.process_time() - cpu_start
    model.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    train_log = {
        "train": {
            **TRAIN,
            "steps": steps,
            "seed": SEED,
            "periods": list(PERIODS),
            "layer0_window_steps": LAYER0_WINDOW_STEPS,
        },
        "train_seconds": wall,
        "train_cpu_seconds": cpu,
        "history": history,
    }
    (args.out / "train_log.json").write_text(json.dumps(train_log, indent=2) + "\n")
    results = evaluate(args.out, train_log)
    print(json.dumps({k: v for k, v in results.items() if k != "history"}, indent=1))


def _table(scores: list[list[float]]) -> str:
    heads = len(scores[0])
    lines = ["| layer | " + " | ".join(f"head {h}" for h in range(heads)) + " |", "|---" * (heads + 1) + "|"]
    lines += [f"| {i} | " + " | ".join(f"{s:.3f}" for s in row) + " |" for i, row in enumerate(scores)]
    return "\n".join(lines)


def write_card(out: Path, r: dict) -> None:
    ind, prev = r["induction"], r["prev_token"]
    layer, head = max(((i, h) for i in range(len(ind)) for h in range(len(ind[0]))), key=lambda lh: ind[lh[0]][lh[1]])
    pl, ph = max(((i, h) for i in range(len(prev)) for h in range(len(prev[0]))), key=lambda lh: prev[lh[0]][lh[1]])
    t = r["train"]
    timing = (
        f"{r['train_seconds']:.0f} s wall time, {r['train_cpu_seconds']:.0f} s CPU time on a busy shared machine"
        if r["train_seconds"] is not None
        else "training time not recorded for this run"
    )
    card = (
        f"""---
library_name: transformers
pipeline_tag: text-generation
tags: [gpt2, attention-only, induction-heads, tiny, synthetic, ai-safety-course]
---

# attn-only-2l

A **2-layer attention-only transformer** trained on random token sequences with repeated segments,
so that it forms an **induction head** (Olsson et al. 2022, "In-context learning and induction
heads"). Used by week 9 (mechanistic interpretability). Trained by
`python -m courselib.world.train_induction`.

- Architecture: `GPT2LMHeadModel`, 2 layers, 4 heads, d_model 64, context 64, vocab 1024 (the
  world's tokenizer, shipped here too), tied embeddings. **Attention-only**: every MLP weight and
  bias is exactly zero (frozen during training), so each block's MLP adds nothing (GELU(0) = 0);
  the checkpoint stays loadable by `transformers` and TransformerLens's `TransformerBridge`.
  {r["params"]:,} parameters, {r["trainable_params"]:,} of them trained.
- Load offline: `AutoModelForCausalLM.from_pretrained("datasets/models/attn-only-2l", local_files_only=True)`.
- Data: uniform random token ids 2..{r["tokens_end"] - 1} after BOS (id 0), each sequence a random block
  repeated with a random period in {t["periods"][0]}..{t["periods"][1]} until the context is full (no fixed offset predicts the
  next token).
- Curriculum: for the first {t["layer0_window_steps"]} steps layer 0 may attend only to BOS, the previous token
  and itself (a training-time mask; the saved model has none). Without it the runs tried formed other
  circuits that also predict repeats (see the script's docstring).
- Training: AdamW (lr {t["lr"]}, betas 0.9/0.98, weight decay 0.01), {t["warmup"]} warmup steps then constant,
  batch {t["batch_size"]} × {t["seq_len"]} tokens, {t["steps"]} steps, seed {t["seed"]}, 1 CPU thread, {timing}.
  The loss counts every copied token and a random 20% of the others.
- Final training loss: {r["history"][-1]["train_loss"]:.3f} nats/token.

## Measured behaviour

On {r["eval"]["n_seqs"]} sequences `[BOS, r, r]` with `r` of {r["eval"]["rep_len"]} uniform random tokens
(seed {r["eval"]["seed"]}; never seen in training):

- mean loss on the first copy (tokens 2..{r["eval"]["rep_len"]}): **{r["loss_first_copy"]:.3f}** nats
  (ln {r["tokens_end"] - 2} = {math.log(r["tokens_end"] - 2):.3f} is chance);
- mean loss on the second copy: **{r["loss_second_copy"]:.3f}** nats.

**Induction score** (Olsson et al.): the mean attention from each token of the second copy to the
token right after its earlier occurrence. Best head: **{layer}.{head}, {ind[layer][head]:.3f}**.

{_table(ind)}

**Previous-token score** (mean attention from each position t ≥ 1 to t − 1). Best head:
**{pl}.{ph}, {prev[pl][ph]:.3f}**.

{_table(prev)}

**TransformerLens 4 head detection**: `transformer_lens.head_detector`'s detection patterns and
`compute_head_attention_similarity_score` (`error_measure="mul"`, what `detect_head` computes) on
the attention patterns cached by a `TransformerBridge` in compatibility mode, mean over the first
20 of these sequences. The "mul" score averages over *every* query position, including the first copy,
where an induction head has nothing to attend to, so a perfect induction head scores about
{r["eval"]["rep_len"]}/{2 * r["eval"]["rep_len"] + 1} ≈ {r["eval"]["rep_len"] / (2 * r["eval"]["rep_len"] + 1):.2f} here.

Induction heads:

{_table(r["transformer_lens"]["induction_head"])}

Previous-token heads:

{_table(r["transformer_lens"]["previous_token_head"])}

Training curve (evaluated on 50 of the sequences above every 200 steps):

| step | train loss | loss, 1st copy | loss, 2nd copy | best induction score |
|---|---|---|---|---|
"""
        + "\n".join(
            f"| {h['step']} | {h['train_loss']:.3f} | {h['loss_first_copy']:.3f} | {h['loss_second_copy']:.3f} | {h['best_induction']:.3f} |"
            for h in r["history"]
        )
        + "\n\nSynthetic data only; no text of the world is involved beyond its tokenizer.\n"
    )
    (out / "README.md").write_text(card)


if __name__ == "__main__":
    main()
