# expect: reaches into the grader | looks up names chosen at run time | courselib.world.bias.wilson_interval
# courselib's Wilson interval through another courselib module's `from ... import` alias, by name.
import importlib


def wilson_interval(successes, n, z=1.96):
    module = importlib.import_module("courselib.world." + "train_vulnerable")
    return vars(module)["wilson_" + "interval"](successes, n, z)
