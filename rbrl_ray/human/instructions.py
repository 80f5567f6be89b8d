"""What a person rating each task is asked to judge: the task's own reward, in words
(dm_control's definitions), so people and the synthetic rater rank the same thing."""

from __future__ import annotations

INSTRUCTIONS: dict[str, str] = {
    "cartpole-balance": "Good: the pole stays upright and the cart stays near the middle "
    "of the track. Bad: the pole leans or swings, or the cart drifts to the side.",
    "ball_in_cup-catch": "Good: the ball is swung into the cup and stays inside it. "
    "Bad: the ball hangs or swings outside the cup.",
    "finger-spin": "Good: the finger keeps the hinged body spinning fast. "
    "Bad: the body stands still or only wobbles.",
    "cheetah-run": "Good: the cheetah runs forward (to the right) fast, up to about 10 m/s. "
    "Bad: it stands, falls over or moves backward.",
    "walker-walk": "Good: the walker stays upright with its torso high and walks forward at "
    "about 1 m/s. Bad: it falls, kneels or stands still.",
    "quadruped-walk": "Good: the quadruped stays upright and walks forward at about 0.5 m/s. "
    "Bad: it flips over or does not move forward.",
}


def scale_labels(classes: int) -> list[str]:
    """A label per class; the ends say what they mean."""
    labels = [str(i) for i in range(classes)]
    labels[0], labels[-1] = "0: very bad", f"{classes - 1}: very good"
    return labels
