"""Scenario files: a versioned, human-readable TOML format validated against a schema."""

from engine.scenario.loader import Problem, ScenarioError, dump_scenario, load_scenario, loads_scenario
from engine.scenario.schema import ROLE_KINDS, Cue, PaletteButton, Scenario, ScenarioRole, World

__all__ = [
    "Cue",
    "PaletteButton",
    "Problem",
    "ROLE_KINDS",
    "Scenario",
    "ScenarioRole",
    "ScenarioError",
    "World",
    "dump_scenario",
    "load_scenario",
    "loads_scenario",
]
