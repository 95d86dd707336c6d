"""Report files (writers) and terminal output (render)."""
