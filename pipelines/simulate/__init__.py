"""The sample shop: a deterministic, vectorised generator of a poster/wallpaper shop's event stream.

``simulate_shop(...)`` writes landing files (the pipeline's input) and a hidden ``truth/`` folder (the
pipeline never reads it; tests and benchmarks score against it). See docs/simulator.md.
"""

from pipelines.simulate.shop import SimulationSummary, WorldMismatch, simulate_shop

__all__ = ["SimulationSummary", "WorldMismatch", "simulate_shop"]
