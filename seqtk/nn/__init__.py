"""Neural-network modules: cells, fused and ragged recurrences, encoders, embedding, attention, CRF,
the character LM, the encoder-decoder, decoding, and their traceable forms.

See docs/architecture.md for the areas and the order in which they may import each other."""
