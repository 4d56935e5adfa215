"""Loop recording: continuous sensor segments on disk within a budget."""
