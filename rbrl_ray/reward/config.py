"""Settings of the reward model and its trainer (defaults: RbRL / B-Pref)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from rbrl_ray.validation import StrictModel


class RewardModelConfig(StrictModel):
    """Architecture and optimisation of the reward model; the loss comes from the method."""

    members: int = Field(3, ge=1, description="ensemble size")
    hidden: int = Field(256, ge=1)
    layers: int = Field(3, ge=1, description="hidden layers")
    lr: float = Field(3e-4, gt=0)
    batch_size: int = Field(128, ge=2, description="segments per minibatch")
    max_epochs: int = Field(100, ge=1, description="epochs per fit, at most")
    target_accuracy: float = Field(0.97, gt=0, le=1, description="early stop on training accuracy")
    k: float = Field(30.0, gt=0, description="sharpness of the class probability (eq. 2)")
    alpha: float = Field(1.0, ge=0, description="scale of the rating target (eq. 3)")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "cpu",
        description="where fits run: cpu (the default, as every record so far), cuda (the "
        "rating service needs a GPU: service_gpus in the spec), or auto (cuda if torch "
        "sees one)",
    )
