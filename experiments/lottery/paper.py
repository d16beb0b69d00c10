"""The paper's lottery numbers: section F's table (mean of 2 trials, final test accuracy %), the adjacency of
trial 0's first-layer masks, and Fig. 3's accuracies at 92% sparsity (REFERENCE section 4)."""

PAPER = {
    "new": {"dense": 64.2, "ticket": 65.85, "random": 59.95},
    "shuffled": {"dense": 63.75, "ticket": 62.8, "random": 60.7},
    "flipped": {"dense": 63.05, "ticket": 62.8, "random": 60.25},
    "chunks": {"dense": 64.1, "ticket": 61.85, "random": 59.2},
    "reinit": {"dense": 63.75, "ticket": 65.5, "random": 60.45},
}
PAPER_ADJACENCY = {"random": {2: 0.0056, 3: 0.00015, 4: 0.0}, "ticket": {2: 0.0093, 3: 0.0024, 4: 0.0003}}
PAPER_FIG3 = {"ticket": 75.0, "dense": 65.6, "random": 61.0}  # "about 75% vs 65.6%", "about 61%"
