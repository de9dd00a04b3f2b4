"""The care sufficiency simulator: children's journeys through care against finite placement capacity."""

__version__ = "0.1.0"
