"""What users see: embeds, replies and error rendering, buttons."""
