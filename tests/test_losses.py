"""The reward-learning math of docs/design.md, checked against hand-computed values."""

import math

import pytest
import torch

from rbrl_ray.reward.losses import (
    RECIPES,
    RatingLoss,
    class_boundaries,
    class_logits,
    class_probabilities,
    classification_loss,
    normalise_returns,
    rating_targets,
    regression_loss,
)


def test_normalise_returns_maps_minibatch_to_unit_interval():
    out = normalise_returns(torch.tensor([1.0, 3.0, 5.0]))
    assert torch.allclose(out, torch.tensor([0.0, 0.5, 1.0]))


def test_normalise_returns_flat_minibatch_is_zero_not_nan():
    out = normalise_returns(torch.tensor([2.0, 2.0, 2.0]))
    assert torch.equal(out, torch.zeros(3))


def test_boundaries_split_sorted_returns_at_label_counts():
    r = torch.tensor([0.7, 0.0, 1.0, 0.5, 0.2])  # sorted: 0, .2, .5, .7, 1
    labels = torch.tensor([2, 0, 2, 1, 0])  # n_j = 2, 1, 2 -> c = 2, 3, 5
    bounds = class_boundaries(r, labels, 3)
    assert torch.allclose(bounds, torch.tensor([0.0, 0.2, 0.5, 1.0]))


def test_boundaries_with_class_zero_absent_start_at_zero():
    # c_0 = 0: the public RbRL code indexes sorted[-1] = max here; we put R_1 at 0.
    r = torch.tensor([0.0, 0.1, 0.4, 0.8, 1.0])
    labels = torch.tensor([1, 1, 2, 2, 2])  # c = 0, 2, 5
    bounds = class_boundaries(r, labels, 3)
    assert torch.allclose(bounds, torch.tensor([0.0, 0.0, 0.1, 1.0]))


def test_boundaries_with_middle_class_absent_have_zero_width_class():
    r = torch.tensor([0.0, 0.3, 0.6, 1.0])
    labels = torch.tensor([0, 0, 2, 2])  # c = 2, 2, 4
    bounds = class_boundaries(r, labels, 3)
    assert torch.allclose(bounds, torch.tensor([0.0, 0.3, 0.3, 1.0]))


def test_boundaries_carry_no_gradient_and_batch_over_members():
    r = torch.tensor([[0.0, 0.5, 1.0], [1.0, 0.0, 0.25]], requires_grad=True)
    labels = torch.tensor([[0, 1, 1], [1, 0, 0]])  # each member its own labels
    bounds = class_boundaries(r, labels, 2)
    assert not bounds.requires_grad
    assert torch.allclose(bounds, torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.25, 1.0]]))


def test_class_probability_tiny_example():
    # R̃ = 0.5 with bounds 0, 0.4, 1 and k = 30: logits -1.5 and +1.5 (eq. 2).
    q = class_probabilities(torch.tensor([0.5]), torch.tensor([0.0, 0.4, 1.0]), k=30.0)
    p1 = math.exp(3.0) / (1.0 + math.exp(3.0))
    assert torch.allclose(q, torch.tensor([[1.0 - p1, p1]]), atol=1e-6)


def test_classification_loss_is_negative_log_q_of_label():
    logits = class_logits(torch.tensor([0.5]), torch.tensor([0.0, 0.4, 1.0]), k=30.0)
    loss = classification_loss(logits, torch.tensor([1]))
    assert loss.item() == pytest.approx(-math.log(math.exp(3.0) / (1.0 + math.exp(3.0))), rel=1e-5)


def test_rating_targets_logarithmic_and_linear_limit():
    y = torch.tensor([0, 1, 2])
    log_t = rating_targets(y, 3, alpha=1.0)
    assert torch.allclose(log_t, torch.tensor([0.0, math.log(2) / math.log(3), 1.0]))
    assert torch.allclose(rating_targets(y, 3, alpha=0.0), torch.tensor([0.0, 0.5, 1.0]))
    # a larger alpha lifts the middle classes further (concave map)
    assert rating_targets(y, 3, alpha=10.0)[1] > log_t[1]


def test_regression_loss_is_mean_squared_gap_to_targets():
    loss = regression_loss(
        torch.tensor([0.0, 0.5, 1.0]), rating_targets(torch.tensor([0, 1, 2]), 3, 1.0)
    )
    gap = 0.5 - math.log(2) / math.log(3)
    assert loss.item() == pytest.approx(gap**2 / 3, rel=1e-5)


RETURNS = torch.tensor([[1.0, 4.0, 2.0, 9.0, 7.0]])  # one member, R̂ of 5 segments
LABELS = torch.tensor([0, 1, 0, 2, 1])
S_CLS, S_REG = 0.3, -0.2


def _parts():
    r = normalise_returns(RETURNS)
    l_cls = classification_loss(class_logits(r, class_boundaries(r, LABELS, 3), 30.0), LABELS)
    l_reg = regression_loss(r, rating_targets(LABELS, 3, 1.0))
    return l_cls.item(), l_reg.item()


@pytest.mark.parametrize(
    "method, expected",
    [
        ("rbrl", lambda c, r: c),
        (
            "ours",
            lambda c, r: math.exp(-S_CLS) * c + 0.5 * math.exp(-S_REG) * r + 0.5 * (S_CLS + S_REG),
        ),
        ("ours_equal", lambda c, r: 0.5 * c + 0.5 * r),
        ("ours_cls", lambda c, r: math.exp(-S_CLS) * c + 0.5 * S_CLS),
        ("ours_reg", lambda c, r: 0.5 * math.exp(-S_REG) * r + 0.5 * S_REG),
    ],
)
def test_each_method_combines_the_two_losses_as_specified(method, expected):
    loss = RatingLoss(method, n_classes=3, members=1, k=30.0, alpha=1.0)
    with torch.no_grad():
        loss.log_var_cls.fill_(S_CLS)
        loss.log_var_reg.fill_(S_REG)
    total, _ = loss(RETURNS, LABELS)
    l_cls, l_reg = _parts()
    assert l_cls > 0 and l_reg > 0
    assert total.item() == pytest.approx(expected(l_cls, l_reg), rel=1e-5)


def test_every_reward_method_has_a_recipe():
    assert set(RECIPES) == {"rbrl", "ours", "ours_equal", "ours_cls", "ours_reg"}


def test_learned_sigmas_move_as_eq5_says_when_one_loss_dominates():
    """With the task losses held fixed, eq. 5's stationary points are
    σ_cls² = e^{s1} = 2 L_cls and σ_reg² = e^{s2} = L_reg: the larger loss gets
    the larger σ, hence the smaller weight."""
    loss = RatingLoss("ours", n_classes=3, members=1, k=30.0, alpha=1.0)
    # Segments ranked against their labels: classification loss is large.
    returns = torch.tensor([[9.0, 8.0, 7.0, 1.0, 0.0, 0.5]])
    labels = torch.tensor([0, 0, 0, 2, 2, 2])
    r = normalise_returns(returns)
    l_cls = classification_loss(
        class_logits(r, class_boundaries(r, labels, 3), 30.0), labels
    ).item()
    l_reg = regression_loss(r, rating_targets(labels, 3, 1.0)).item()
    assert l_cls > 3 * l_reg
    optimiser = torch.optim.Adam(loss.parameters(), lr=0.05)
    for _ in range(2000):
        total, _ = loss(returns, labels)
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
    sigma_cls, sigma_reg = loss.sigmas()
    assert sigma_cls == pytest.approx(math.sqrt(2 * l_cls), rel=1e-2)
    assert sigma_reg == pytest.approx(math.sqrt(l_reg), rel=1e-2)
    assert sigma_cls > sigma_reg
    assert math.exp(-loss.log_var_cls.item()) < 0.5 * math.exp(-loss.log_var_reg.item())


def test_unlearned_terms_report_no_sigma():
    assert RatingLoss("rbrl", 3, 1, 30.0, 1.0).sigmas() == (None, None)
    assert RatingLoss("ours_equal", 3, 1, 30.0, 1.0).sigmas() == (None, None)
    cls_sigma, reg_sigma = RatingLoss("ours_cls", 3, 1, 30.0, 1.0).sigmas()
    assert cls_sigma == pytest.approx(1.0) and reg_sigma is None
