# expect: boom
# A 30 MB exception message (it became 90 MB of feedback): the reason stays one short line.


def sequence_logprobs(*args, **kwargs):
    raise ValueError("boom " + "x" * 30_000_000)


def robust_dpo_loss(*args, **kwargs):
    raise RuntimeError("boom\n" + "y" * 30_000_000)
