"""Published numbers to print beside our own: the VmambaIR paper's Tables 1-3 and the bicubic baseline.

Copied from the paper (Shi et al., 2024, arXiv 2403.11423); a test re-parses an independent transcription
of its tables and compares every entry. Table 1 (GAN SISR) reports LPIPS and PSNR, Table 2 (real-world SR)
LPIPS, PSNR and SSIM, Table 3 (deraining) PSNR and SSIM. The paper does not name its LPIPS backbone in
the tables; the authors' ``RealSR/Metric/LPIPS.py`` uses VGG.

The bicubic x4 rows are the baseline SR papers print (e.g. RCAN, Zhang et al. ECCV 2018, Table 3);
``vmambair eval --model bicubic`` reproduces Set5 and BSD100 to 0.01 dB / 0.0005.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PUBLISHED", "PublishedScore", "published_for"]


@dataclass(frozen=True)
class PublishedScore:
    """One method's published scores on one benchmark; None where the table has no such column."""

    method: str
    benchmark: str
    psnr: float | None
    ssim: float | None
    lpips: float | None
    source: str

    @property
    def short_source(self) -> str:
        """``Table 1`` ... for the paper's rows, ``literature`` for the bicubic baseline."""
        return self.source.split(", ")[1].split(" (")[0] if self.source.startswith("VmambaIR paper") else "literature"

    def to_dict(self) -> dict[str, object]:
        return {"method": self.method, "benchmark": self.benchmark, "psnr": self.psnr, "ssim": self.ssim,
                "lpips": self.lpips, "source": self.source}


_T1 = "VmambaIR paper, Table 1 (GAN SISR x4)"
_T1_SETS = ("Manga109", "Set14", "General100", "Urban100", "DIV2K100")
# method: (LPIPS, PSNR) per set, in _T1_SETS order
_T1_ROWS: dict[str, tuple[tuple[float, float], ...]] = {
    "SFTGAN": ((0.0716, 28.17), (0.1313, 26.74), (0.0947, 29.16), (0.1343, 24.34), (0.1331, 28.09)),
    "SRGAN": ((0.0707, 28.11), (0.1327, 26.84), (0.0964, 29.33), (0.1439, 24.41), (0.1257, 28.17)),
    "ESRGAN": ((0.0649, 28.41), (0.1241, 26.59), (0.0879, 29.43), (0.1229, 24.37), (0.1154, 28.18)),
    "USRGAN": ((0.0630, 28.75), (0.1347, 27.41), (0.0937, 30.00), (0.1330, 24.89), (0.1325, 28.79)),
    "SPSR": ((0.0672, 28.56), (0.1207, 26.86), (0.0862, 29.42), (0.1184, 24.80), (0.1099, 28.18)),
    "BebyGAN": ((0.0529, 29.19), (0.1157, 27.09), (0.0778, 29.95), (0.1096, 25.23), (0.1022, 28.62)),
    "VmambaIR": ((0.0496, 29.99), (0.1097, 27.64), (0.0762, 30.34), (0.1037, 25.71), (0.0995, 29.18)),
}

_T2 = "VmambaIR paper, Table 2 (real-world SR x4)"
_T2_SETS = ("NTIRE2020-Track1", "AIM2019")
# method: (LPIPS, PSNR, SSIM) per set
_T2_ROWS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "ESRGAN": ((0.5938, 21.14, 0.3119), (0.5558, 23.17, 0.6192)),
    "BSRGAN": ((0.3691, 26.75, 0.7386), (0.4048, 24.20, 0.6904)),
    "Real-ESRGAN": ((0.3471, 26.40, 0.7431), (0.3956, 23.89, 0.6892)),
    "SwinIR": ((0.3512, 26.39, 0.7414), (0.3980, 23.88, 0.6905)),
    "MM-RealSR": ((0.3446, 25.19, 0.7404), (0.3948, 23.05, 0.6889)),
    "VmambaIR": ((0.3379, 27.06, 0.7501), (0.3891, 23.90, 0.6972)),
}

_T3 = "VmambaIR paper, Table 3 (deraining)"
_T3_SETS = ("Rain100H", "Rain100L", "Test2800", "Test1200")
# method: (PSNR, SSIM) per set
_T3_ROWS: dict[str, tuple[tuple[float, float], ...]] = {
    "DerainNet": ((14.92, 0.592), (27.03, 0.884), (24.31, 0.861), (23.38, 0.835)),
    "UMRL": ((26.01, 0.832), (29.18, 0.923), (29.97, 0.905), (30.55, 0.910)),
    "RESCAN": ((26.36, 0.786), (29.80, 0.881), (31.29, 0.904), (30.51, 0.882)),
    "PreNet": ((26.77, 0.858), (32.44, 0.950), (31.75, 0.916), (31.36, 0.911)),
    "MSPFN": ((28.66, 0.860), (32.40, 0.933), (32.82, 0.930), (32.39, 0.916)),
    "MPRNet": ((30.41, 0.890), (36.40, 0.965), (33.64, 0.938), (32.91, 0.916)),
    "SPAIR": ((30.95, 0.892), (36.93, 0.969), (33.34, 0.936), (33.04, 0.922)),
    "Restormer": ((31.46, 0.904), (38.99, 0.978), (34.18, 0.944), (33.19, 0.926)),
    "VmambaIR": ((31.66, 0.909), (39.09, 0.979), (34.01, 0.944), (33.33, 0.926)),
}

_BICUBIC = "bicubic x4 baseline as SR papers print it (e.g. RCAN, ECCV 2018, Table 3)"
_BICUBIC_ROWS = {
    "Set5": (28.42, 0.8104),
    "Set14": (26.00, 0.7027),
    "BSD100": (25.96, 0.6675),
    "Urban100": (23.14, 0.6577),
    "Manga109": (24.89, 0.7866),
}


def _build() -> tuple[PublishedScore, ...]:
    rows: list[PublishedScore] = []
    for method, values in _T1_ROWS.items():
        rows += [PublishedScore(method, s, p, None, lp, _T1) for s, (lp, p) in zip(_T1_SETS, values, strict=True)]
    for method, values3 in _T2_ROWS.items():
        rows += [PublishedScore(method, s, p, ss, lp, _T2) for s, (lp, p, ss) in zip(_T2_SETS, values3, strict=True)]
    for method, values2 in _T3_ROWS.items():
        rows += [PublishedScore(method, s, p, ss, None, _T3) for s, (p, ss) in zip(_T3_SETS, values2, strict=True)]
    rows += [PublishedScore("bicubic", s, p, ss, None, _BICUBIC) for s, (p, ss) in _BICUBIC_ROWS.items()]
    return tuple(rows)


PUBLISHED: tuple[PublishedScore, ...] = _build()


def published_for(benchmark: str, method: str | None = None) -> tuple[PublishedScore, ...]:
    """Published rows for ``benchmark`` (canonical name), optionally one method's (case-insensitive)."""
    return tuple(
        r for r in PUBLISHED if r.benchmark == benchmark and (method is None or r.method.lower() == method.lower())
    )
