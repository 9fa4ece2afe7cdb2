# expect: `cohen_kappa_score`
# Weeks 6 and 7's Cohen's kappa from scikit-learn.
import torch
from sklearn.metrics import cohen_kappa_score


def cohen_kappa(a, b):
    return torch.tensor(cohen_kappa_score(a.tolist(), b.tolist()), dtype=torch.float64)


def cohens_kappa(a, b):
    return torch.tensor(cohen_kappa_score(a.tolist(), b.tolist()), dtype=torch.float64)
