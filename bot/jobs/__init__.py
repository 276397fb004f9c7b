"""Jobs handed from the webhook receiver to workers."""
