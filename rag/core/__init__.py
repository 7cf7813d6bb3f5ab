"""The records every stage passes on, the errors it raises, the settings and page labels."""
