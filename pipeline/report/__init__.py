"""Plots and tables of runs: the paper's Figures 3-5 for this project's experiments."""
