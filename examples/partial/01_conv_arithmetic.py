"""student-partial on notebook 01: two answers right, one classic mistake, one left undone."""

EXPECTED_SCORE = 5.0  # conv_output_size 2 + conv2d_unfold 3
EXPECTED_TAGS = {"test_conv2d_naive": "flipped-kernel", "test_conv_matrix": "not-implemented"}

ANSWERS = {
    "conv_output_size": "solution",
    "conv2d_unfold": "solution",
    # True convolution flips the kernel; PyTorch's conv2d does not.
    "conv2d_naive": '''
def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    (sh, sw), (ph, pw), (dh, dw) = as_pair(stride), as_pair(padding), as_pair(dilation)
    n, _, h, w = x.shape
    c_out, cin_g, kh, kw = weight.shape
    h_out, w_out = conv_output_size((h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw))
    xp = F.pad(x, (pw, pw, ph, ph))
    flipped = weight.flip(-1, -2)  # "a convolution flips its kernel"
    out = x.new_zeros(n, c_out, h_out, w_out)
    for o in range(c_out):
        g = o // (c_out // groups)
        xs = xp[:, g * cin_g:(g + 1) * cin_g]
        for i in range(h_out):
            for j in range(w_out):
                window = xs[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
                out[:, o, i, j] = (window * flipped[o]).sum(dim=(1, 2, 3))
        if bias is not None:
            out[:, o] += bias[o]
    return out
''',
}
