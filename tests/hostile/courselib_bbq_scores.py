# expect: courselib.world.bias.bbq_scores
# Week 12's bbq_bias_scores as a wrapper around courselib's own BBQ aggregation.
from courselib.world import bias


def bbq_bias_scores(pred, label, unknown, biased, ambiguous):
    scores = bias.bbq_scores(pred.tolist(), label.tolist(), unknown.tolist(), biased.tolist(), ambiguous.tolist())
    return {k: v for k, v in scores.items() if k != "acc"}
