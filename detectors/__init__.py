"""Pure numeric detectors: windows, percentiles, drift tests, River wrappers, accuracy.

Imports only numpy, scipy, river, ddsketch and the standard library (no Kafka, Redis, logging or
clock).  The worker uses :class:`VersionMonitor` (``detectors.bank``); the parts are usable alone.

Modules
-------
window        SlidingWindow: last N values bounded by age, exact statistics, batch updates
percentiles   RollingPercentiles (exact over the window), LatencySketch (mergeable DDSketch)
reference     Reference (from samples or the first N events), JSON round trip
drift         KS, PSI, chi-square, z-score; calibrated nulls; Holm correction
anomaly       HalfSpaceTrees, OneClassSVM (River) and a linear autoencoder, one surface
concept       ADWIN and Page-Hinkley on an error stream, debounced
accuracy      MAE, RMSE, R², MAPE over the window and cumulatively
bank          MonitorConfig, VersionMonitor: all of the above for one (model, version)

Every stateful detector has ``to_dict()`` / ``from_dict()`` (plain JSON types; River models are
pickled in base64 inside the dict, see ``detectors._state``).
"""

from .accuracy import Accuracy, accuracy_metrics
from .anomaly import (
                      HalfSpaceTreesAnomaly,
                      OneClassSVMAnomaly,
                      ReconstructionAnomaly,
                      anomaly_from_dict,
)
from .bank import MonitorConfig, VersionMonitor
from .concept import ADWINDrift, PageHinkleyDrift
from .drift import (
                      CategoricalDriftTest,
                      DriftResult,
                      NullModel,
                      NumericDriftTest,
                      chi2_test,
                      correct,
                      holm,
                      ks_test,
                      psi_categorical,
                      psi_test,
                      zscore_test,
)
from .percentiles import LatencySketch, RollingPercentiles
from .reference import Reference, ReferenceBuilder
from .window import SlidingWindow

__all__ = [
    "ADWINDrift", "Accuracy", "CategoricalDriftTest", "DriftResult", "HalfSpaceTreesAnomaly",
    "LatencySketch", "MonitorConfig", "NullModel", "NumericDriftTest", "OneClassSVMAnomaly",
    "PageHinkleyDrift", "ReconstructionAnomaly", "Reference", "ReferenceBuilder", "RollingPercentiles",
    "SlidingWindow", "VersionMonitor", "accuracy_metrics", "anomaly_from_dict", "chi2_test", "correct",
    "holm", "ks_test", "psi_categorical", "psi_test", "zscore_test",
]
