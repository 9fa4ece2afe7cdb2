# expect: courselib.world.harness.run_task
# Week 12's run_eval answered by the harness function the exercise asks students to write.
from courselib.world.harness import run_task


def run_eval(task, model, batch_size=64, limit=None):
    return run_task(task, model, batch_size, limit)
