"""The faces layer (docs/architecture.md): landmarks, alignment to the template, an image file to an aligned face."""
