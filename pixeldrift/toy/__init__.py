"""The toy lab: 2-D points diffuse to a Gaussian cloud, and a small MLP learns to bring them back."""
