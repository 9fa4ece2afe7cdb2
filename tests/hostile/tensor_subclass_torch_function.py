# expect: your code uses torch's internals | `__torch_function__`
# A tensor subclass's own __torch_function__ runs while torch has the grader's TorchFunctionMode
# switched off: F.kl_div, called there by a computed name, decomposes into ordinary operators that
# no dispatch-level recorder can tell apart from a hand-written answer.
import torch
import torch.nn.functional as F


class Box(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        p, q = (a.as_subclass(torch.Tensor) for a in args)
        lp = p - p.logsumexp(-1, keepdim=True)
        lq = q - q.logsumexp(-1, keepdim=True)
        return getattr([F][0], "kl_" + "div")(lq, lp, reduction="none", log_target=True).sum(-1)


def kl_divergence(p_logits, q_logits):
    return torch.add(p_logits.as_subclass(Box), q_logits)
