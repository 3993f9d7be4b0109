"""The sequence-to-sequence task: an encoder-decoder model that maps one string to another."""
