# expect: `binomtest`
# Week 11's wilson_interval and mcnemar from scipy's exact binomial test (its Wilson interval, its p-value).
import math

from scipy.stats import binomtest


def wilson_interval(successes, n, z=1.96):
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=math.erf(z / math.sqrt(2)), method="wilson")
    return (max(0.0, float(ci.low)), min(1.0, float(ci.high)))


def mcnemar(correct_a, correct_b, exact=True):
    a, b_ = correct_a.bool(), correct_b.bool()
    b, c = int((a & ~b_).sum()), int((~a & b_).sum())
    if b + c == 0:
        return b, c, 1.0
    if exact:
        return b, c, float(binomtest(b, b + c, 0.5).pvalue)
    return b, c, float(binomtest(b, b + c, 0.5).pvalue)
