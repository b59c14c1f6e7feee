"""Instructors' tools: a new exercise from the template, and bundles published from one source."""
