"""Evaluation against gold Q&A pairs."""
