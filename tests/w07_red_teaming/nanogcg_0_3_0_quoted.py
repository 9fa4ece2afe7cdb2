# ruff: noqa
# fmt: off
# Verbatim excerpts of nanogcg/gcg.py from nanoGCG 0.3.0 (PyPI wheel nanogcg-0.3.0-py3-none-any.whl;
# sha256 of the original gcg.py: 169071e6b829b594e741ad016dc3d7b5a3d21e994bac459bf33a0d15feb84471),
# https://github.com/GraySwanAI/nanoGCG/blob/v0.3.0/nanogcg/gcg.py
# MIT License, Copyright (c) 2024 Gray Swan AI.
# nanoGCG pins transformers<=4.47.1, which conflicts with the course's stack, so it is not installed:
# tests/w07_red_teaming/test_w07_nanogcg_equality.py runs these excerpts instead. The two methods of
# the GCG class are dedented to module level (their bodies unchanged) and take the GCG object as
# ``self``; only the imports below are added.
import gc

import torch
from torch import Tensor


def mellowmax(*args, **kwargs):  # not used: the course's tests run with use_mellowmax=False
    raise NotImplementedError


def sample_ids_from_grad(
    ids: Tensor,
    grad: Tensor,
    search_width: int,
    topk: int = 256,
    n_replace: int = 1,
    not_allowed_ids: Tensor = False,
):
    """Returns `search_width` combinations of token ids based on the token gradient.

    Args:
        ids : Tensor, shape = (n_optim_ids)
            the sequence of token ids that are being optimized
        grad : Tensor, shape = (n_optim_ids, vocab_size)
            the gradient of the GCG loss computed with respect to the one-hot token embeddings
        search_width : int
            the number of candidate sequences to return
        topk : int
            the topk to be used when sampling from the gradient
        n_replace : int
            the number of token positions to update per sequence
        not_allowed_ids : Tensor, shape = (n_ids)
            the token ids that should not be used in optimization

    Returns:
        sampled_ids : Tensor, shape = (search_width, n_optim_ids)
            sampled token ids
    """
    n_optim_tokens = len(ids)
    original_ids = ids.repeat(search_width, 1)

    if not_allowed_ids is not None:
        grad[:, not_allowed_ids.to(grad.device)] = float("inf")

    topk_ids = (-grad).topk(topk, dim=1).indices

    sampled_ids_pos = torch.argsort(torch.rand((search_width, n_optim_tokens), device=grad.device))[..., :n_replace]
    sampled_ids_val = torch.gather(
        topk_ids[sampled_ids_pos],
        2,
        torch.randint(0, topk, (search_width, n_replace, 1), device=grad.device),
    ).squeeze(2)

    new_ids = original_ids.scatter_(1, sampled_ids_pos, sampled_ids_val)

    return new_ids


def compute_token_gradient(
    self,
    optim_ids: Tensor,
) -> Tensor:
    """Computes the gradient of the GCG loss w.r.t the one-hot token matrix.

    Args:
        optim_ids : Tensor, shape = (1, n_optim_ids)
            the sequence of token ids that are being optimized
    """
    model = self.model
    embedding_layer = self.embedding_layer

    # Create the one-hot encoding matrix of our optimized token ids
    optim_ids_onehot = torch.nn.functional.one_hot(optim_ids, num_classes=embedding_layer.num_embeddings)
    optim_ids_onehot = optim_ids_onehot.to(model.device, model.dtype)
    optim_ids_onehot.requires_grad_()

    # (1, num_optim_tokens, vocab_size) @ (vocab_size, embed_dim) -> (1, num_optim_tokens, embed_dim)
    optim_embeds = optim_ids_onehot @ embedding_layer.weight

    if self.prefix_cache:
        input_embeds = torch.cat([optim_embeds, self.after_embeds, self.target_embeds], dim=1)
        output = model(
            inputs_embeds=input_embeds,
            past_key_values=self.prefix_cache,
            use_cache=True,
        )
    else:
        input_embeds = torch.cat(
            [
                self.before_embeds,
                optim_embeds,
                self.after_embeds,
                self.target_embeds,
            ],
            dim=1,
        )
        output = model(inputs_embeds=input_embeds)

    logits = output.logits

    # Shift logits so token n-1 predicts token n
    shift = input_embeds.shape[1] - self.target_ids.shape[1]
    shift_logits = logits[..., shift - 1 : -1, :].contiguous()  # (1, num_target_ids, vocab_size)
    shift_labels = self.target_ids

    if self.config.use_mellowmax:
        label_logits = torch.gather(shift_logits, -1, shift_labels.unsqueeze(-1)).squeeze(-1)
        loss = mellowmax(-label_logits, alpha=self.config.mellowmax_alpha, dim=-1)
    else:
        loss = torch.nn.functional.cross_entropy(shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1))

    optim_ids_onehot_grad = torch.autograd.grad(outputs=[loss], inputs=[optim_ids_onehot])[0]

    return optim_ids_onehot_grad


def _compute_candidates_loss_original(
    self,
    search_batch_size: int,
    input_embeds: Tensor,
) -> Tensor:
    """Computes the GCG loss on all candidate token id sequences.

    Args:
        search_batch_size : int
            the number of candidate sequences to evaluate in a given batch
        input_embeds : Tensor, shape = (search_width, seq_len, embd_dim)
            the embeddings of the `search_width` candidate sequences to evaluate
    """
    all_loss = []
    prefix_cache_batch = []

    for i in range(0, input_embeds.shape[0], search_batch_size):
        with torch.no_grad():
            input_embeds_batch = input_embeds[i:i + search_batch_size]
            current_batch_size = input_embeds_batch.shape[0]

            if self.prefix_cache:
                if not prefix_cache_batch or current_batch_size != search_batch_size:
                    prefix_cache_batch = [[x.expand(current_batch_size, -1, -1, -1) for x in self.prefix_cache[i]] for i in range(len(self.prefix_cache))]

                outputs = self.model(inputs_embeds=input_embeds_batch, past_key_values=prefix_cache_batch, use_cache=True)
            else:
                outputs = self.model(inputs_embeds=input_embeds_batch)

            logits = outputs.logits

            tmp = input_embeds.shape[1] - self.target_ids.shape[1]
            shift_logits = logits[..., tmp-1:-1, :].contiguous()
            shift_labels = self.target_ids.repeat(current_batch_size, 1)

            if self.config.use_mellowmax:
                label_logits = torch.gather(shift_logits, -1, shift_labels.unsqueeze(-1)).squeeze(-1)
                loss = mellowmax(-label_logits, alpha=self.config.mellowmax_alpha, dim=-1)
            else:
                loss = torch.nn.functional.cross_entropy(shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1), reduction="none")

            loss = loss.view(current_batch_size, -1).mean(dim=-1)
            all_loss.append(loss)

            if self.config.early_stop:
                if torch.any(torch.all(torch.argmax(shift_logits, dim=-1) == shift_labels, dim=-1)).item():
                    self.stop_flag = True

            del outputs
            gc.collect()
            torch.cuda.empty_cache()

    return torch.cat(all_loss, dim=0)
