"""Brief-driven design: read the brief (brief_reader), shape the spec from its frame (shape)."""
