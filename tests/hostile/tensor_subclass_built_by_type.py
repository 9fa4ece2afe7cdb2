# expect: `__torch_function__` | does not allow looking up
# The same subclass built by type() with a computed key (nothing for a static check to read): the
# TorchFunctionMode records the foreign __torch_function__ as it meets the subclass.
import torch
import torch.nn.functional as F


def _handler(cls, func, types, args=(), kwargs=None):
    p, q = (a.as_subclass(torch.Tensor) for a in args)
    lp = p - p.logsumexp(-1, keepdim=True)
    lq = q - q.logsumexp(-1, keepdim=True)
    return getattr([F][0], "kl_" + "div")(lq, lp, reduction="none", log_target=True).sum(-1)


def kl_divergence(p_logits, q_logits):
    box = type("Box", (torch.Tensor,), {"__torch_" + "function__": classmethod(_handler)})
    return torch.add(p_logits.as_subclass(box), q_logits)
