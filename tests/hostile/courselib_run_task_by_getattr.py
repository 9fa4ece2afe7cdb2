# expect: looks up names chosen at run time | courselib.world.harness.run_task
# The same shortcut with a computed name: only the run-time stub can see it.
import importlib


def run_eval(task, model, batch_size=64, limit=None):
    harness = importlib.import_module("courselib.world." + "harness")
    return getattr(harness, "run_" + "task")(task, model, batch_size, limit)
