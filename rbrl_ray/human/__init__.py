"""A person in the loop: segments rendered as videos, a rating page, rating desks."""
