"""Question answering over Chinese news articles with verified, sentence-level citations."""
