"""Example models that ship with the engine: fixtures with published state counts."""
