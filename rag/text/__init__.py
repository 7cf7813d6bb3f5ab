"""Text analysis shared by every stage: tokens, sentences and clauses, words and stop words,
question cleaning, language, follow-ups and acronyms."""
