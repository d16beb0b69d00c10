"""The reference notebook's hand fit of its metalearned activation, as plain numbers (no torch), so that the
metalearning study can declare its runs without importing the networks: the breakpoints and, per piece, the
(slope, intercept)."""

REFERENCE_BREAKPOINTS = (-2.0, -1.0, -0.25, 0.1, 0.6)
REFERENCE_PIECES = ((0.15, 0.9), (-0.25, 0.1), (-1.2, -0.85), (-0.5, -0.75), (0.2, -0.85), (1.2, -1.4))
