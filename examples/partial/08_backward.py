"""student-partial on notebook 08: numeric gradients and average pooling right, four classic backward mistakes."""

EXPECTED_SCORE = 4.0  # numeric_gradient 2 + avg_pool2d_backward 2
EXPECTED_TAGS = {"test_conv2d_backward": "kernel-not-flipped",
                 "test_max_pool2d_backward": "ties-to-every-max",
                 "test_batch_norm2d_backward": "bn-mean-term-missing",
                 "test_cross_entropy_backward": "mean-over-batch-missing"}

ANSWERS = {
    "numeric_gradient": "solution",
    "avg_pool2d_backward": "solution",
    # dx slides the kernel over the padded dout as it is: the flip of a transposed convolution is missing.
    "conv2d_backward": '''
def conv2d_backward(dout, x, weight, stride=1, padding=0, dilation=1, groups=1):
    sh, sw = as_pair(stride)
    ph, pw = as_pair(padding)
    dh, dw_ = as_pair(dilation)
    n, c_in, h, w = x.shape
    c_out, c_group, kh, kw = weight.shape
    h_out, w_out = dout.shape[-2:]
    xp = F.pad(x, (pw, pw, ph, ph))
    dxp = torch.zeros_like(xp)
    dw = torch.zeros_like(weight)
    flipped = weight.flip(-1, -2)  # "the gradient of a correlation is a convolution", applied the wrong way round
    per_group = c_out // groups
    for g in range(groups):
        ins = slice(g * c_group, (g + 1) * c_group)
        outs = slice(g * per_group, (g + 1) * per_group)
        for u in range(kh):
            for v in range(kw):
                rows = slice(u * dh, u * dh + sh * (h_out - 1) + 1, sh)
                cols = slice(v * dw_, v * dw_ + sw * (w_out - 1) + 1, sw)
                dw[outs, :, u, v] += torch.einsum("noij,ncij->oc", dout[:, outs], xp[:, ins, rows, cols])
                dxp[:, ins, rows, cols] += torch.einsum("noij,oc->ncij", dout[:, outs], flipped[outs, :, u, v])
    return dxp[:, :, ph:ph + h, pw:pw + w], dw, dout.sum(dim=(0, 2, 3))
''',
    # Every value equal to the window's maximum gets the whole gradient.
    "max_pool2d_backward": '''
def max_pool2d_backward(dout, x, kernel_size, stride=None, padding=0):
    kh, kw = as_pair(kernel_size)
    sh, sw = as_pair(kernel_size if stride is None else stride)
    ph, pw = as_pair(padding)
    h, w = x.shape[-2:]
    xp = F.pad(x, (pw, pw, ph, ph), value=float("-inf"))
    dxp = torch.zeros_like(xp)
    for i in range(dout.shape[-2]):
        for j in range(dout.shape[-1]):
            window = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            is_max = window == window.amax(dim=(-2, -1), keepdim=True)
            dxp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += is_max * dout[:, :, i, j, None, None]
    return dxp[:, :, ph:ph + h, pw:pw + w]
''',
    # Differentiates through xhat and the variance, but treats the batch mean as a constant.
    "batch_norm2d_backward": '''
def batch_norm2d_backward(dout, x, weight, eps=1e-5):
    dims = (0, 2, 3)
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, unbiased=False, keepdim=True)
    rstd = 1 / torch.sqrt(var + eps)
    xhat = (x - mean) * rstd
    dx = weight.view(1, -1, 1, 1) * rstd * (dout - xhat * (dout * xhat).mean(dim=dims, keepdim=True))
    return dx, (dout * xhat).sum(dim=dims), dout.sum(dim=dims)
''',
    # softmax - onehot, but for a summed loss: F.cross_entropy averages over the batch.
    "cross_entropy_backward": '''
def cross_entropy_backward(logits, target):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    probs = shifted.exp() / shifted.exp().sum(dim=1, keepdim=True)
    onehot = torch.zeros_like(probs)
    onehot[torch.arange(len(target)), target] = 1.0
    return probs - onehot
''',
}
