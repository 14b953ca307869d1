"""What every deskmcp server shares: the stdio loop, tools, settings, logging."""
