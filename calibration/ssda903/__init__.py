"""Calibration from an authority's own SSDA903 returns (header, episodes, UASC)."""
