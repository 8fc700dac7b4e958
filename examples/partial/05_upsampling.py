"""student-partial on notebook 05: sizes, loops and nearest right; two classic mistakes; one left undone."""

EXPECTED_SCORE = 6.0  # conv_transpose_output_size 2 + conv_transpose2d_naive 3 + interpolate_nearest 1
EXPECTED_TAGS = {"test_interpolate_bilinear": "align-corners-swapped",
                 "test_transposed_conv_via_matrix": "pseudo-inverse-not-transpose",
                 "test_overlap_map": "not-implemented"}

ANSWERS = {
    "conv_matrix_from_01": "solution",  # their notebook-01 conv_matrix, pasted as asked
    "conv_transpose_output_size": "solution",
    "conv_transpose2d_naive": "solution",
    "interpolate_nearest": "solution",
    # One formula for both conventions: align_corners is ignored.
    "interpolate_bilinear": '''
def interpolate_bilinear(x, size, align_corners=False):
    h_out, w_out = as_pair(size)

    def axis(n_in, n_out):
        i = torch.arange(n_out, dtype=torch.float64, device=x.device)
        src = ((i + 0.5) * (n_in / n_out) - 0.5).clamp(min=0)
        lo = src.floor().long().clamp(max=n_in - 1)
        hi = (lo + 1).clamp(max=n_in - 1)
        return lo, hi, (src - lo).to(x.dtype)

    r0, r1, lam_r = axis(x.shape[-2], h_out)
    c0, c1, lam_c = axis(x.shape[-1], w_out)
    rows = x[:, :, r0] * (1 - lam_r)[:, None] + x[:, :, r1] * lam_r[:, None]
    return rows[..., c0] * (1 - lam_c) + rows[..., c1] * lam_c
''',
    # "Deconvolution" read literally: undo the convolution with the pseudo-inverse of C.
    "transposed_conv_via_matrix": '''
def transposed_conv_via_matrix(y, weight):
    _, c_in, kh, kw = weight.shape
    h, w = y.shape[-2] + kh - 1, y.shape[-1] + kw - 1
    C = conv_matrix(weight, (h, w))
    return (torch.linalg.pinv(C) @ y.flatten()).reshape(c_in, h, w)
''',
}
