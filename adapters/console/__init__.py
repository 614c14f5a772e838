"""Console chat: the shared grammar on stdin/stdout, for the demo, local use and scripting."""
