# expect: `explained_variance_score`
# Week 2's explained_variance from scikit-learn (with the NaN of a constant target added by hand).
from sklearn.metrics import explained_variance_score


def explained_variance(y_pred, y_true):
    if float(y_true.double().var(unbiased=False)) == 0:
        return float("nan")
    return float(explained_variance_score(y_true.double().tolist(), y_pred.double().tolist(), force_finite=False))
