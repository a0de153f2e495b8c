"""Using a trained model: its record, the task registry, safe loading, model folders, classify, generate."""
