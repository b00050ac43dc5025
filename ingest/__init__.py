"""Turn files into cleaned, segmented, chunked articles."""
