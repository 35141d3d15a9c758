"""The evaluation layer (docs/architecture.md): a trained net on a split or an image list, and its metrics."""
