"""Reports: Jinja2 templates, matplotlib figures, PDF through headless Chromium."""
