# expect: reaches into the grader | is not available to graded code
# The spec module's "switch per mistake" helper, called with its default switch: the right answer.
from graders.weeks.w05_dpo import _batch_dpo


def dpo_batch_loss(policy, batch, beta=0.1):
    return _batch_dpo(policy, batch, beta)
