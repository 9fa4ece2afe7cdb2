# expect: `roc_curve`
# Week 9's auroc as the trapezoidal area under scikit-learn's ROC curve.
import torch
from sklearn.metrics import auc, roc_curve


def auroc(scores, labels):
    fpr, tpr, _ = roc_curve(labels.long().tolist(), scores.double().tolist())
    return torch.tensor(float(auc(fpr, tpr)), dtype=torch.float32)
