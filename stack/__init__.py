"""One environment of the stack: its settings (config), what it runs on (catalogue, versions), its wiring."""
