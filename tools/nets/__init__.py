"""The nets layer (docs/architecture.md): the prototxt generator, Caffe files, sizes, gradient checks, logs, model cards."""
