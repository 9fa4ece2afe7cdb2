# expect: your code reaches into the grader
# torch's TorchFunctionMode and TorchDispatchMode are thread-local: a forbidden function called on
# another thread (by a name no source check can read) was seen by no recorder, and kept its gradient.
import threading
from concurrent.futures import ThreadPoolExecutor

import torch.nn.functional as F


def log_softmax(logits, dim=-1):
    out = []
    fn = getattr([F][0], "_".join(["log", "soft" + "max"]))
    worker = threading.Thread(target=lambda: out.append(fn(logits, dim)))
    worker.start()
    worker.join()
    return out[0]


def cross_entropy(logits, targets, ignore_index=-100):
    fn = getattr([F][0], "_".join(["cross", "entro" + "py"]))
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, logits, targets, ignore_index=ignore_index).result()
