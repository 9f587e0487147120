"""Synaptic plasticity: local learning rules, a Loihi-style fixed-point learning engine and
meta-learning of rule hyperparameters (:mod:`.fixedpoint` holds the shared integer arithmetic)."""
