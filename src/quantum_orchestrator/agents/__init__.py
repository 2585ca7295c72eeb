"""The agent runtime and SDK: capabilities as decorated functions, the run loop, built-in nodes."""
