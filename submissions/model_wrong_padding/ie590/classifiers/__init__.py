"""Classifiers built from the reference layers."""
