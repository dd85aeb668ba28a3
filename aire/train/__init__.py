"""Training: the loop (trainer), its callbacks, the schedule's plain functions, state and precision."""
