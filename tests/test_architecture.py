"""The import layers of docs/architecture.md hold: each module imports only from its own layer and
the layers its row names, and every module belongs to a layer. The table in the doc is the
contract; this reads it."""
import ast
import re

from helpers.caffe import REPO

PACKAGES = ("bench", "data_prep", "dscmr", "python_layers", "tools")


def layers():
    """{layer: (module prefixes, layers it may import)} from the doc's table."""
    text = (REPO / "docs" / "architecture.md").read_text()
    table = text[text.index("| layer | modules | may import |"):].split("\n\n")[0].splitlines()[2:]
    rows = {}
    for row in table:
        layer, modules, uses = [c.strip() for c in row.strip("|").split("|")]
        rows[layer] = (re.findall(r"`([\w.]+)`", modules), {u.strip() for u in uses.split(",") if u.strip()})
    return rows


def modules():
    """{module name: path} of every module of the project's packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def imports(path, known):
    """The project's modules that path imports, anywhere in it (a function's lazy import too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                     for a in node.names]
        else:
            continue
        found |= {n for n in names if n.split(".")[0] in PACKAGES}
    return found


def layer_of(module, rows):
    """The layer whose longest module prefix matches, or None."""
    best = None
    for layer, (prefixes, _) in rows.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (layer, len(prefix))
    return best and best[0]


def test_the_table_is_read():
    rows = layers()
    assert list(rows)[:2] == ["core", "reference layers"] and rows["core"] == (["dscmr"], set())
    assert rows["evaluation"] == (["tools.evaluation"], {"core", "data", "nets"})
    assert layer_of("data_prep.faces.align", rows) == "faces" and layer_of("data_prep.derive", rows) == "data"


def test_a_layer_is_a_folder():
    """Each row names packages, so the tree shows the layers; the one module outside its layer's folder
    is the command whose path every generated prototxt names (docs/architecture.md)."""
    named = [m for prefixes, _ in layers().values() for m in prefixes]
    assert [m for m in named if not (REPO / m.replace(".", "/") / "__init__.py").is_file()] == ["tools.generate_prototxt"]


def test_every_module_has_a_layer():
    rows = layers()
    # A package's __init__ that imports nothing is a namespace, in no layer.
    homeless = [m for m, path in modules().items()
                if layer_of(m, rows) is None and (not path.name == "__init__.py" or imports(path, modules()))]
    assert homeless == []


def wrong_imports(module, path, rows, known):
    """The imports of module (at path) that its layer's row does not allow."""
    mine = layer_of(module, rows)
    allowed = {mine} | (rows[mine][1] if mine else set())
    return [f"{module} ({mine}) imports {dep} ({layer_of(dep, rows)})" for dep in sorted(imports(path, known))
            if layer_of(dep, rows) not in allowed | {None}]


def test_imports_run_one_way():
    rows, known = layers(), modules()
    assert [w for module, path in known.items() for w in wrong_imports(module, path, rows, known)] == []


def test_the_contract_catches_an_upward_import(tmp_path):
    path = tmp_path / "align.py"
    path.write_text("def f():\n    from tools.experiments.reproduce import main\n    from dscmr import paper\n")
    rows, known = layers(), modules()
    assert wrong_imports("data_prep.faces.align", path, rows, known) == [
        "data_prep.faces.align (faces) imports tools.experiments.reproduce (experiments)"]


def test_the_tests_follow_the_layers():
    """A test lives in the folder of the layer it tests (docs/architecture.md names them), or at the top
    when it crosses layers; every folder the doc names exists and holds tests."""
    doc = (REPO / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`tests/([a-z_]+)`", doc)) - {"helpers"}
    folders = {p.parent.relative_to(REPO / "tests").parts[0] for p in (REPO / "tests").rglob("test_*.py")
               if p.parent != REPO / "tests"}
    assert folders == named and len(named) >= 9
    assert sorted(p.name for p in (REPO / "tests").glob("test_*.py")) == [
        "test_architecture.py", "test_commands.py", "test_hostile_inputs.py", "test_readme_commands.py"]
