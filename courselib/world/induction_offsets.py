import sys, torch; sys.path.insert(0,"/tmp/ind"); sys.path.insert(0,"/work/main")
import ti
from transformers import GPT2LMHeadModel
m = GPT2LMHeadModel.from_pretrained(sys.argv[1], attn_implementation="eager").eval()
ids = ti.repeated_tokens(1234, 50, 30, 1024); n=30
with torch.no_grad(): out = m(ids, output_attentions=True)
q = torch.arange(n+1, 2*n+1)
for L, a in enumerate(out.attentions):
    for h in range(a.shape[1]):
        A = a[:, h][:, q]  # B, nq, T
        rel = torch.zeros(61)
        for i, qq in enumerate(q.tolist()):
            for k in range(qq+1):
                rel[qq-k] += A[:, i, k].mean()
        rel /= len(q)
        top = rel.topk(5)
        ent = -(A.clamp_min(1e-9).log()*A).sum(-1).mean().item()
        print(L, h, "entropy %.2f" % ent, " ".join(f"off{int(i)}:{v:.2f}" for v, i in zip(top.values, top.indices)))
