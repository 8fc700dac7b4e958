"""student-partial on notebook 02: the autograd mask right, a classic recurrence mistake, one left undone."""

EXPECTED_SCORE = 3.0  # gradient_receptive_field 3
EXPECTED_TAGS = {"test_receptive_field": "jump-after-layer", "test_stacking_costs": "not-implemented"}

ANSWERS = {
    "gradient_receptive_field": "solution",
    # The stride is applied to the jump BEFORE the kernel's growth is added: the field grows by
    # (k_eff - 1) * j_out instead of (k_eff - 1) * j_in.
    "receptive_field": '''
def receptive_field(layers):
    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)

    def flat(modules):
        out = []
        for m in modules:
            out += flat(list(m.children())) if isinstance(m, nn.Sequential) else [m]
        return out

    size, jump, start = [1, 1], [1, 1], [0, 0]
    for m in flat(layers):
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
            k, s, p, d = pair(m.kernel_size), pair(m.stride), pair(m.padding), pair(m.dilation)
        elif isinstance(m, nn.AvgPool2d):
            k, s, p, d = pair(m.kernel_size), pair(m.stride), pair(m.padding), (1, 1)
        else:
            continue
        for a in range(2):
            start[a] -= p[a] * jump[a]
            jump[a] *= s[a]  # updated too early
            size[a] += (d[a] * (k[a] - 1)) * jump[a]
    return ReceptiveField(tuple(size), tuple(jump), tuple(start))
''',
}
