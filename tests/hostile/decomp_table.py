# expect: your code uses torch's internals
import torch
import torch._decomp


def sequence_logprobs(logits, input_ids, completion_mask):
    table = torch._decomp.decomposition_table
    logps = table[torch.ops.aten._log_softmax.default](logits[:, :-1], -1, False)
    token = logps.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return (token * completion_mask[:, 1:]).sum(-1)
