"""JSON `param_str` parsing shared by the Python reference layers."""
import json


def parse_param_str(param_str, defaults, layer_name):
    """Returns `defaults` updated with the JSON object in `param_str`.

    An unknown key or malformed JSON raises ValueError naming the layer and the problem,
    so a typo in a prototxt never silently falls back to a default.
    """
    params = dict(defaults)
    if not param_str:
        return params
    try:
        given = json.loads(param_str)
    except json.JSONDecodeError as e:
        raise ValueError(f"layer {layer_name}: param_str is not valid JSON ({e}): {param_str!r}")
    if not isinstance(given, dict):
        raise ValueError(f"layer {layer_name}: param_str must be a JSON object, got {param_str!r}")
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"layer {layer_name}: unknown param_str keys {unknown}; known: {sorted(defaults)}")
    params.update(given)
    return params
