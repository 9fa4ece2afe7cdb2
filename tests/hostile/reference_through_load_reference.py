# expect: reaches into the grader | is not available to graded code
# The week's reference implementation, loaded the way later weeks' notebooks load earlier ones.
from graders import load_reference


def dpo_loss(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps, reference_rejected_logps, beta=0.1):
    return load_reference("w05_dpo").dpo_loss(
        policy_chosen_logps, policy_rejected_logps, reference_chosen_logps, reference_rejected_logps, beta
    )
