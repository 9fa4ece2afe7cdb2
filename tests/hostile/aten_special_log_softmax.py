# expect: your code uses torch's internals
import torch


def sequence_logprobs(logits, input_ids, completion_mask):
    aten = torch.ops.aten
    logps = aten.special_log_softmax(logits[:, :-1], -1)
    token = logps.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return (token * completion_mask[:, 1:]).sum(-1)
