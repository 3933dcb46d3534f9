"""Pure numeric detectors: windows, percentiles, drift tests, River wrappers, accuracy."""
