"""Degradations that make training and benchmark LQ images from clean ones, each a pure function of
(image batch, config, generator):

* ``realesrgan``: Real-ESRGAN's second-order pipeline (the realsr training data, BSD100-realesrgan),
  assembled from ``config`` (its typed settings), ``kernels`` (blur and sinc kernels), ``noise`` and ``jpeg``;
* ``mild``: slight blur, x4 down, light noise, JPEG 70-95 (the mild share of realsr training, BSD100-mild);
* ``rain``: synthetic rain streaks (derain training without paired data; an approximation).
"""
