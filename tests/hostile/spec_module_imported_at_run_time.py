# expect: looks up names chosen at run time | does not allow looking up | is not available to graded code
# The same helper, reached by importlib at run time (nothing for a static check to read).
import importlib


def dpo_batch_loss(policy, batch, beta=0.1):
    spec = importlib.import_module("graders.weeks." + "w05_dpo")
    return getattr(spec, "_batch" + "_dpo")(policy, batch, beta)
