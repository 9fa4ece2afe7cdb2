# expect: your code uses torch's internals
import torch


def sequence_logprobs(logits, input_ids, completion_mask):
    shifted = logits[:, :-1].transpose(1, 2)
    nll = torch.ops.aten.cross_entropy_loss(shifted, input_ids[:, 1:], None, 0)  # reduction "none"
    return -(nll * completion_mask[:, 1:]).sum(-1)
