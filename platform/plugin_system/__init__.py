"""The plugin machinery: building the plugin manager and delivering events to plugins.

The contract plugins implement is :mod:`specialistly.hookspecs`.
"""
