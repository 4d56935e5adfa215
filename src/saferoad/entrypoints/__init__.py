"""Entry points: the CLI and the services. Thin: they parse arguments and call the application."""
