"""student-partial on notebook 04: the size rule and unpooling right, two classic pooling mistakes."""

EXPECTED_SCORE = 4.0  # pool_output_size 2 + max_unpool2d_naive 2
EXPECTED_TAGS = {"test_max_pool2d_naive": "zero-padding-in-max",
                 "test_avg_pool2d_naive": "count-include-pad-wrong"}

ANSWERS = {
    "pool_output_size": "solution",
    "max_unpool2d_naive": "solution",
    # F.pad pads with zeros by default: an all-negative window at the border then returns 0.
    "max_pool2d_naive": '''
def max_pool2d_naive(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    (kh, kw) = as_pair(kernel_size)
    (sh, sw) = as_pair(kernel_size if stride is None else stride)
    (ph, pw), (dh, dw) = as_pair(padding), as_pair(dilation)
    n, c, h, w = x.shape
    h_out, w_out = pool_output_size((h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil_mode)
    extra_h = max(0, (h_out - 1) * sh + dh * (kh - 1) + 1 - (h + 2 * ph))
    extra_w = max(0, (w_out - 1) * sw + dw * (kw - 1) + 1 - (w + 2 * pw))
    xp = F.pad(x, (pw, pw + extra_w, ph, ph + extra_h))  # zeros, as for a convolution
    positions = F.pad(torch.arange(h * w, device=x.device).reshape(h, w), (pw, pw + extra_w, ph, ph + extra_h))
    values = x.new_empty(n, c, h_out, w_out)
    indices = torch.empty(n, c, h_out, w_out, dtype=torch.int64, device=x.device)
    for i in range(h_out):
        rows = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
        for j in range(w_out):
            cols = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
            window = xp[:, :, rows, cols].reshape(n, c, -1)
            best = window.argmax(dim=-1)
            values[:, :, i, j] = window.gather(-1, best.unsqueeze(-1)).squeeze(-1)
            indices[:, :, i, j] = positions[rows, cols].reshape(-1)[best]
    return (values, indices) if return_indices else values
''',
    # Always divides by the window inside the padded input, whatever count_include_pad says.
    "avg_pool2d_naive": '''
def avg_pool2d_naive(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                     divisor_override=None):
    (kh, kw) = as_pair(kernel_size)
    (sh, sw) = as_pair(kernel_size if stride is None else stride)
    (ph, pw) = as_pair(padding)
    n, c, h, w = x.shape
    h_out, w_out = pool_output_size((h, w), (kh, kw), (sh, sw), (ph, pw), 1, ceil_mode)
    out = x.new_zeros(n, c, h_out, w_out)
    for i in range(h_out):
        top = i * sh - ph
        bottom = min(top + kh, h + ph)
        for j in range(w_out):
            left = j * sw - pw
            right = min(left + kw, w + pw)
            window = x[:, :, max(top, 0):min(bottom, h), max(left, 0):min(right, w)]
            divisor = divisor_override or (bottom - top) * (right - left)
            out[:, :, i, j] = window.sum(dim=(2, 3)) / divisor
    return out
''',
}
