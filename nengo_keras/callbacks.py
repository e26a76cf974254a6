"""Keras callbacks (spiking-aware training arrives in a later release)."""
