"""The paper's numbers for Figs. 5 and 6 (Sections B and C of the reference notebooks), as printed or read off
its plots."""

from __future__ import annotations

# Section B, printed: the rate after the given outer step, from each init; the converged losses.
LR = {1.5: {3: 1.259, 6: 1.044, 9: 0.911, 12: 0.821, 18: 0.721, 27: 0.659, 36: 0.635, 48: 0.6243},
      0.15: {3: 0.491, 6: 0.541, 12: 0.586, 21: 0.609, 30: 0.617, 48: 0.6203}}
LR_CONVERGED = 0.62  # "both inits converge to about 0.62"
LR_MEAN_LOSS, LR_FINAL_LOSS = 1.716, 1.505
# Section C, printed: meta-loss and test accuracy at outer steps; baselines' mean inner loss and final accuracy.
ACTIVATION = {0: (1.352, 48.6), 8: (1.058, 61.8), 12: (0.999, 63.8), 28: (0.980, 65.0), 250: (0.894, 67.6),
              300: (0.884, 68.4)}
LAST_50_ACC = (64.8, 69.4)
BASELINE_LOSS = {"relu": 1.337, "swish": 1.368, "elu": 1.474, "softplus": 1.647, "tanh": 1.524, "sigmoid": 1.753}
BASELINE_ACC = {"relu": 59, "swish": 58, "elu": 51, "tanh": 50.5, "softplus": 44, "sigmoid": 35}  # read off a plot
REFERENCE_PIECEWISE_ACC = 66.4
# The learned function's shape (plot; the reference's hand fit): feature -> (value, precision, where).
SHAPE = {"lobe": (0.6, 0.05, "max of f on [-3, -1]"), "left tail": (0.15, 0.005, "f(-5)"),
         "dip": (-0.85, 0.005, "min of f on [-0.5, 1]"), "zero crossing": (1.15, 0.05, "first x in [0, 3] where f "
                                                                              "crosses 0 upwards"),
         "slope": (1.2, 0.05, "slope of f over [1.5, 3]")}
