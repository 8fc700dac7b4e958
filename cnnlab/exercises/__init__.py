"""One module per notebook: its exercises' references, visible cases and misconceptions.

Modules here are imported on demand by :func:`cnnlab.exercise.get_exercise`; adding a
module registers its exercises, nothing else needs editing.
"""
