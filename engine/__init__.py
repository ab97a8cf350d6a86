"""VReID engine: find one vehicle in images and video. Public API: `engine.api`."""
