# expect: does not allow looking up 'cohen_kappa_score'
# scikit-learn's kappa by a name built at run time, on a module the static guard cannot resolve
# (it is taken out of a list): no source check sees the name, and no torch recorder sees the call.
import sklearn.metrics as m
import torch


def cohens_kappa(a, b):
    modules = [m]
    fn = getattr(modules[0], "_".join(["cohen", "kappa", "score"]))
    return torch.tensor(fn(a.tolist(), b.tolist()), dtype=torch.float64)
