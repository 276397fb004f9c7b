"""The Dockerfile model (pure: no I/O beyond the text it is given)."""

from bot.dockerfile.errors import Problem
from bot.dockerfile.instructions import Instruction
from bot.dockerfile.model import Dockerfile, Stage, Step, parse_dockerfile

__all__ = ["Dockerfile", "Instruction", "Problem", "Stage", "Step", "parse_dockerfile"]
