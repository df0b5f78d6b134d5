"""The classroom (issue 23): the arena, break-the-model challenges, spot the AI, prompt augmentation and the
bias audit, each measured with the world's exact verifier."""
