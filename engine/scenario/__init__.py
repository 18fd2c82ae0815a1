"""Scenario files: a versioned, human-readable TOML format validated against a schema."""

from engine.scenario.loader import Problem, ScenarioError, dump_scenario, load_scenario, loads_scenario
from engine.scenario.schema import Cue, PaletteButton, Scenario, World

__all__ = [
    "Cue",
    "PaletteButton",
    "Problem",
    "Scenario",
    "ScenarioError",
    "World",
    "dump_scenario",
    "load_scenario",
    "loads_scenario",
]
