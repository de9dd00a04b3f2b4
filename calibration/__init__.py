"""Fitting scenario parameters from data (SSDA903 returns, published sufficiency statements).

Imports `sim` to write scenarios and run backtests; `sim` never imports this package.
"""
