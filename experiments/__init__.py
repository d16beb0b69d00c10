"""Sweeps that drive the Lightning modules and write results and figures."""
