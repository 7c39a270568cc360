"""pearray: a toolchain for a multi-bit-width reconfigurable PE array.

The subpackages follow the data flow: ``isa`` (the one description) ->
``asm`` (text to program image) -> ``emu`` (image to machine to results) ->
``kernels`` (assembly conv layers) and ``quant`` (float to fixed point).
"""

from pathlib import Path as _Path

__version__ = "0.1.0"

# Installed, setuptools maps pearray.isa -> isa/ etc.  In a source checkout
# (build scripts, `python -c` from the root) the folders sit beside this one.
_root = _Path(__file__).resolve().parent.parent
_SOURCE_TREE = (_root / "isa" / "spec.py").is_file() and (_root / "pyproject.toml").is_file()
if _SOURCE_TREE:
    __path__.append(str(_root))  # noqa: F821 - the package's own search path


def source_tree_note() -> str:
    """Why this pearray may not be the one that was installed: '' when it is, else a
    sentence for an import error (the emulator core of a checkout that shadows the
    installed package on sys.path is usually not built)."""
    if not _SOURCE_TREE:
        return ""
    installed = _installed_elsewhere()
    if installed is None:
        return ""
    return (f"; note: pearray was imported from the source tree {_root}, ahead of the "
            f"installed package in {installed}, because the current folder (python -c, "
            "python -m) or a script's sys.path.insert put the tree on sys.path: run from "
            "another folder or with `python -P`, or build the tree in place")


def _installed_elsewhere() -> _Path | None:
    """Where an installed pearray lives, if not in this source tree."""
    import json
    from importlib import metadata

    for dist in metadata.distributions(name="pearray"):
        url = json.loads(dist.read_text("direct_url.json") or "{}")
        if url.get("dir_info", {}).get("editable") and url.get("url", "").startswith("file://"):
            where = _Path(url["url"][len("file://"):]).resolve()
        else:
            where = _Path(str(dist.locate_file("pearray"))).resolve()
            if not (where / "__init__.py").is_file():
                continue  # metadata without the package (an egg-info in the tree)
        if where not in (_root, _root / "pearray"):
            return where
    return None
