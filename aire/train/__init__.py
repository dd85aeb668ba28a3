"""Training: the schedule (plain functions) and the trainer (the loop)."""
