# expect: `get_scorer`
# Week 9's auroc from scikit-learn's "roc_auc" scorer on an estimator whose decision function is the scores
# (roc_auc_score is never named).
import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import get_scorer


class Fixed(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X):
        return np.asarray(X)[:, 0]

    def predict_proba(self, X):
        x = np.asarray(X)[:, 0]
        return np.stack([1 - x, x], 1)


def auroc(scores, labels):
    est = Fixed().fit(None, None)
    s = scores.double()
    s = (s - s.min()) / (s.max() - s.min() + 1e-300)
    value = get_scorer("roc_auc")(est, s.numpy()[:, None], labels.long().numpy())
    return torch.tensor(float(value), dtype=torch.float32)
