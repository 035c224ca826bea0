"""Benchmark evaluation: the paper's test sets, their conventions, published numbers, and a runner.

``load_benchmark`` finds and checks a set, a predictor (network or baseline) restores it, ``evaluate``
scores it the way the papers do and returns an ``EvalResult`` carrying the published rows to compare.
Sets without ground truth are scored without reference (NIQE, fixed-pattern amplitude); ``score_folder``
does that for a folder of images restored elsewhere.
"""

from vmambair_core.evaluate.benchmarks import (
    BENCHMARKS,
    ENV_DATA_ROOT,
    Benchmark,
    EvalSet,
    FolderLayout,
    MetricConvention,
    custom_set,
    get_benchmark,
    input_set,
    locate_benchmark,
    resolve_data_root,
)
from vmambair_core.evaluate.loader import load_benchmark
from vmambair_core.data.pairing import ImagePair, Pairing, pair_images
from vmambair_core.evaluate.predictors import (
    BicubicPredictor,
    IdentityPredictor,
    NetworkPredictor,
    Predictor,
    baseline,
    load_network_predictor,
)
from vmambair_core.evaluate.noref import FolderScores, NoReference, no_reference_scores, score_folder
from vmambair_core.evaluate.published import PUBLISHED, PublishedScore, published_for
from vmambair_core.evaluate.runner import (
    EvalResult, ImageScore, check_outputs, evaluate, prepare_lpips, saved_image_dir,
)
from vmambair_core.evaluate.session import (
    MODELS,
    EvalRequest,
    ModelKind,
    build_predictors,
    build_sets,
    lpips_wanted,
    niqe_wanted,
)

__all__ = [
    "BENCHMARKS", "ENV_DATA_ROOT", "MODELS", "PUBLISHED",
    "Benchmark", "BicubicPredictor", "EvalRequest", "EvalResult", "EvalSet", "FolderLayout", "FolderScores",
    "IdentityPredictor", "ImagePair", "ImageScore", "MetricConvention", "ModelKind", "NetworkPredictor", "NoReference",
    "Pairing", "Predictor", "PublishedScore", "baseline", "build_predictors", "build_sets", "check_outputs", "custom_set", "evaluate",
    "get_benchmark", "input_set", "load_benchmark", "load_network_predictor", "locate_benchmark", "lpips_wanted",
    "niqe_wanted", "no_reference_scores", "pair_images", "prepare_lpips", "published_for", "resolve_data_root",
    "saved_image_dir", "score_folder",
]
