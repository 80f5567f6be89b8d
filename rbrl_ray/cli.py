"""Command-line plumbing shared by every entry point.

Bad input must end in one line on stderr and exit code 2, before any
environment, Ray or training work starts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from typing import NoReturn

from rbrl_ray.ray_start import RayStartError
from rbrl_ray.validation import CLASSES_BOUND, MAX_CLASSES, MIN_CLASSES, ConfigError


class UsageError(ConfigError):
    """Bad command-line input; its message is the one line the user sees."""


def choice_error(what: str, value: object, allowed: Iterable[object]) -> UsageError:
    allowed_text = ", ".join(str(a) for a in allowed)
    return UsageError(f"unknown {what} {value!r}; allowed: {allowed_text}")


def int_in_range(what: str, low: int, high: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer in [low, high] (high None: unbounded)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"{low}..{high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"{what} must be {bound}, got {value}")
        return value

    return parse


def float_in_range(what: str, low: float, high: float) -> Callable[[str], float]:
    """argparse type: a number strictly between low and high."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
        if not low < value < high:
            raise argparse.ArgumentTypeError(f"{what} must be in ({low:g}, {high:g}), got {text}")
        return value

    return parse


def choice_list(text: str, allowed: Iterable[str], what: str, flag: str) -> list[str]:
    """A comma-separated list of `allowed` values, in the given order; UsageError
    naming the first unknown one, or an empty list, with the allowed values."""
    allowed = tuple(allowed)
    chosen = [c.strip() for c in text.split(",") if c.strip()]
    for c in chosen:
        if c not in allowed:
            raise choice_error(what, c, allowed)
    if not chosen:
        raise UsageError(f"{flag} is empty; allowed: " + ", ".join(allowed))
    return chosen


#: The --help text of every --classes flag.
CLASSES_HELP = f"rating classes n, {CLASSES_BOUND}"


#: argparse type of a --classes flag; its message is `class_count_error`'s word for word.
class_count = int_in_range("classes", MIN_CLASSES, MAX_CLASSES)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a single line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_noise_argument(parser: argparse.ArgumentParser) -> None:
    """--noise KEY=VALUE (repeatable): the synthetic rater's noise settings."""
    parser.add_argument(
        "--noise",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="rater noise: mistake=EPS, beta=BETA, skip=P (repeatable)",
    )


def run_main(main: Callable[[list[str] | None], int], prog: str) -> NoReturn:
    """Run a CLI main, turning a ConfigError (UsageError included) into one line on
    stderr and exit 2, and Ray's startup timeout into one line and exit 1."""
    try:
        code = main(None)
    except ConfigError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        code = 2
    except RayStartError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        code = 1
    sys.exit(code)
