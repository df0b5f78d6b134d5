"""The command line: one click group, one module per family of commands."""
