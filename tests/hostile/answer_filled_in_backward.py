# expect: does not allow looking up 'kl_div'
# The forward returns zeros; the custom backward, run by the grader's own gradient check (then
# outside the recorders, and always inside torch.autograd.grad, where torch switches the function
# mode off), computes the answer with F.kl_div by a computed name and writes it into the output.
import torch
import torch.nn.functional as F


class _Fill(torch.autograd.Function):
    @staticmethod
    def forward(ctx, p, q):
        out = torch.zeros(p.shape[:-1], dtype=p.dtype)
        ctx.save_for_backward(p, q)
        ctx.box = [out]
        return out

    @staticmethod
    def backward(ctx, g):
        p, q = ctx.saved_tensors
        with torch.enable_grad():
            p2, q2 = p.detach().requires_grad_(), q.detach().requires_grad_()
            lp = p2 - p2.logsumexp(-1, keepdim=True)
            lq = q2 - q2.logsumexp(-1, keepdim=True)
            kl = getattr([F][0], "kl_" + "div")(lq, lp, reduction="none", log_target=True).sum(-1)
            gp, gq = torch.autograd.grad(kl, (p2, q2), g)
        with torch.no_grad():
            ctx.box[0].copy_(kl)
        return gp, gq


def kl_divergence(p_logits, q_logits):
    return _Fill.apply(p_logits, q_logits)
