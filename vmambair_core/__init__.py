"""vmambair core: the VmambaIR network, its scans, weights, data, metrics, training and inference."""
