"""Developer tools, not part of the package: the speed benchmark and the notebook's own code it races."""
