"""Keras 3 layers for spiking models (arriving in a later release)."""
