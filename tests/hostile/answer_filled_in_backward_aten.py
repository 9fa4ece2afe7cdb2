# expect: log_softmax (reached as aten._log_softmax)
# The same lazy answer for log_softmax, with torch.log_softmax reached by a name that only exists at
# run time: the backward now runs under the dispatch-level recorder, which sees aten._log_softmax.
import torch


class _Fill(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        out = torch.zeros_like(x)
        ctx.save_for_backward(x)
        ctx.box = [out]
        return out

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        with torch.enable_grad():
            x2 = x.detach().requires_grad_()
            y = getattr(x2, "_".join(["log", "soft" + "max"]))(-1)
            (gx,) = torch.autograd.grad(y, (x2,), g)
        with torch.no_grad():
            ctx.box[0].copy_(y)
        return gx


def log_softmax(logits, dim=-1):
    return _Fill.apply(logits.transpose(dim, -1)).transpose(dim, -1)
