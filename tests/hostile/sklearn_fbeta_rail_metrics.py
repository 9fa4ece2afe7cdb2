# expect: `fbeta_score`
# Week 8's rail_metrics from scikit-learn's F-beta (beta = 1) and per-label confusion matrices.
from sklearn.metrics import fbeta_score, multilabel_confusion_matrix


def rail_metrics(y_true, y_pred):
    t, p = y_true.long().tolist(), y_pred.long().tolist()
    (tn, fp), (fn, tp) = multilabel_confusion_matrix(t, p, labels=[1, 0])[0].tolist()

    def ratio(a, b):
        return a / b if b > 0 else 0.0

    return {
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": float(fbeta_score(t, p, beta=1.0, zero_division=0.0)),
        "over_blocking": ratio(fp, fp + tn),
    }
