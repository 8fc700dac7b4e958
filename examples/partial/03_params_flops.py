"""student-partial on notebook 03: two counts right, two classic convention mistakes, one left undone."""

EXPECTED_SCORE = 3.0  # conv2d_param_count 2 + count_parameters 1
EXPECTED_TAGS = {
    "test_conv2d_macs": "flops-not-macs",
    "test_count_macs": "transposed-per-output",
    "test_depthwise_separable": "not-implemented",
}

ANSWERS = {
    "conv2d_param_count": "solution",
    "count_parameters": "solution",
    # Counts FLOPs (a multiply and an add per MAC) where MACs were asked for.
    "conv2d_macs": '''
def conv2d_macs(in_channels, out_channels, kernel_size, output_size, groups=1):
    if in_channels % groups or out_channels % groups:
        raise ValueError("channels must be divisible by groups")
    kh, kw = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
    oh, ow = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    return 2 * out_channels * oh * ow * (in_channels // groups) * kh * kw  # multiply + add
''',
    # Treats every convolution class alike, so a transposed convolution is counted per OUTPUT element.
    "count_macs": '''
def count_macs(model, input_shape):
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Linear):
            total += output.numel() * module.in_features
        else:  # Conv1d/2d/3d and ConvTranspose*d all derive from _ConvNd
            total += output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)

    kinds = (nn.modules.conv._ConvNd, nn.Linear)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    weight = next(model.parameters())
    try:
        with torch.no_grad():
            model(torch.zeros(input_shape, device=weight.device, dtype=weight.dtype))
    finally:
        for handle in handles:
            handle.remove()
    return total
''',
}
