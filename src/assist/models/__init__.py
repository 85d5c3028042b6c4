"""Models: the Alkire–Foster deprivation index, the need model, calibration, explanations and
programme matching."""
