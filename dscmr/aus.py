"""Action Unit names and lists, read one way everywhere: 'AU12', 'au 12', '12' and '012' are AU12."""
import argparse
import re

AU_NAME = re.compile(r"^\s*(?:AU)?\s*0*(\d+)\s*$", re.IGNORECASE)


def au_number(name):
    """The AU number of a name like 'AU12', 'au 12' or '12', or None."""
    m = AU_NAME.match(name)
    return int(m.group(1)) if m else None


def parse_au_list(text):
    """A command line's AU list, like 1,2,4 or AU1,AU2: distinct AUs, in the order given."""
    aus = tuple(au_number(a) for a in text.split(","))
    if None in aus or not aus:
        raise argparse.ArgumentTypeError(f"wants comma-separated AU numbers like 1,2,4; got {text!r}")
    if len(set(aus)) != len(aus):
        raise argparse.ArgumentTypeError(f"must list distinct AUs; got {text!r}")
    return aus
