"""Shared helpers for the AI safety engineering course.

Device choice, seeding, progress bars, plots, and loading the small world's data and models.
"""
