"""Measurements: a published row read for its meaning, predicted by the step model and scored; the efficiency fit."""
