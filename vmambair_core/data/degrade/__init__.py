"""Pieces of the Real-ESRGAN degradation: config, blur kernels, noise, JPEG.

The assembled pipeline is ``vmambair_core.data.degradations.degrade_realesrgan``.
"""
