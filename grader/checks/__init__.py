"""Domain checkers the hidden tests call: they know data engineering and nothing about pytest."""
