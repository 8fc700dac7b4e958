"""student-partial on notebook 06: five cells right, six classic mistakes, one left undone.

The mistakes are the ones the notebook warns about: a tanh that overflows, a running variance
stored biased (CS231n / d2l style), dropout without the 1/(1-p) rescale, a weighted mean divided
by N, a softmax without the max shift, and BCE-with-logits through a sigmoid.
"""

EXPECTED_SCORE = 9.0  # linear 1 + collapse_linear 2 + rectifiers 2 + regression losses 3 + pairwise_distance 1
EXPECTED_TAGS = {
    "test_sigmoid_tanh": "exp-overflow",
    "test_batch_norm2d": "running-var-biased",
    "test_dropout": "dropout-not-rescaled",
    "test_nll_loss": "weighted-mean-wrong",
    "test_cross_entropy": "softmax-overflow",
    "test_binary_cross_entropy": "not-implemented",
    "test_binary_cross_entropy_with_logits": "sigmoid-then-bce",
}

ANSWERS = {
    "linear": "solution",
    "collapse_linear": "solution",
    "rectifiers": "solution",
    "regression_losses": "solution",
    "pairwise_distance": "solution",
    # sigmoid is fine (1 / (1 + inf) is 0, not nan), but the textbook tanh divides inf by inf.
    "sigmoid_tanh": '''
def sigmoid(x):
    """The logistic function."""
    return 1 / (1 + torch.exp(-x))


def tanh(x):
    """The hyperbolic tangent, straight from its definition."""
    return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))
''',
    # Right output, but the running variance gets the biased variance (as in CS231n and d2l).
    "batch_norm2d": '''
def batch_norm2d(x, running_mean, running_var, weight=None, bias=None, training=True, momentum=0.1, eps=1e-5):
    """Batch normalisation over (N, H, W) per channel."""
    if training:
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False)
        if running_mean is not None:
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(momentum * mean)
                running_var.mul_(1 - momentum).add_(momentum * var)
    else:
        mean, var = running_mean, running_var
    y = (x - mean.view(1, -1, 1, 1)) / torch.sqrt(var.view(1, -1, 1, 1) + eps)
    if weight is not None:
        y = y * weight.view(1, -1, 1, 1)
    if bias is not None:
        y = y + bias.view(1, -1, 1, 1)
    return y
''',
    # The mask is right, but the kept elements are not divided by 1 - p.
    "dropout": '''
def dropout(x, p=0.5, training=True, generator=None):
    """Zero each element with probability p."""
    if not training:
        return x
    mask = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * mask
''',
    # Weighted losses averaged over the number of samples instead of the sum of their weights.
    "nll_loss": '''
def nll_loss(log_probs, target, weight=None, reduction="mean"):
    """Negative log-likelihood."""
    picked = -log_probs.gather(1, target.unsqueeze(1)).squeeze(1)
    if weight is not None:
        picked = picked * weight[target]
    if reduction == "none":
        return picked
    return picked.sum() if reduction == "sum" else picked.mean()
''',
    # Softmax straight from the formula: exp(1000) is inf, and inf / inf is nan.
    "cross_entropy": '''
def cross_entropy(logits, target, weight=None, reduction="mean"):
    """Cross-entropy: -log softmax(logits)[target]."""
    probs = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    picked = -torch.log(probs).gather(1, target.unsqueeze(1)).squeeze(1)
    w = torch.ones_like(picked) if weight is None else weight[target]
    loss = w * picked
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / w.sum()
''',
    # Left undone: "binary_cross_entropy" keeps its `raise NotImplementedError()`.
    # Sigmoid first, then BCE with PyTorch's clamp: sigmoid(30) is exactly 1.0 in float32.
    "binary_cross_entropy_with_logits": '''
def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """BCE of sigmoid(logits)."""
    p = 1 / (1 + torch.exp(-logits))
    log_p = torch.clamp(torch.log(p), min=-100)
    log_q = torch.clamp(torch.log(1 - p), min=-100)
    loss = -(target * log_p + (1 - target) * log_q)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()
''',
}
