"""Gradio chat page."""
