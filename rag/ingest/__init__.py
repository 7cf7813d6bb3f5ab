"""From files to documents: loaders, cleaning, chunking, the parse worker and one reader per
format (bytes of one file → text with its structure: pages, headings)."""
