"""Helpers shared by the built-in converters (see `nengo_keras.converters`).

May import: `nengo_keras.conversion`, `nengo_keras.errors` and each other.
"""
