"""Text as ids: vocabularies, tokenizers, pretrained vectors, edit distance.

See docs/architecture.md for the areas and the order in which they may import each other."""
