"""Readable numpy reference versions of the paper's layers, usable as Caffe Python layers.

Each layer maps one-to-one onto the paper's equations (see docs/). Parameters arrive as JSON
in `python_param { param_str: '...' }`, with the same field names as the C++ layers' protos.
"""
