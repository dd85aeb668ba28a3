"""Built-in training schedules (plugin kind ``schedule``): ``aire`` (densify, TWD, prune) and ``none``."""
