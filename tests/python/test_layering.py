"""The layering #19 set: hlx-core is the domain (no AWS SDK crate, no module
loops), the adapters live in hlx-aws, and deployed functions depend on no
crate under local/."""

import json
import re
import subprocess
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE_SRC = ROOT / "functions" / "core" / "src"


@lru_cache(maxsize=None)
def metadata():
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def normal_dependencies(package):
    """Every crate `package` needs to build (normal edges, transitively)."""
    out = subprocess.run(
        ["cargo", "tree", "-p", package, "-e", "normal", "--prefix", "none", "--format", "{p}"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_core_needs_no_aws_crate():
    deps = normal_dependencies("hlx-core")
    aws = sorted(d for d in deps if d.startswith("aws-") or d in {"hyper", "hyper-util", "rustls", "hlx-workspace-hack"})
    assert not aws, f"hlx-core depends on {aws}"


def test_the_adapters_crate_holds_the_sdk():
    deps = normal_dependencies("hlx-aws")
    assert {"aws-sdk-dynamodb", "aws-sdk-healthlake", "aws-sdk-s3", "aws-sdk-sfn", "hlx-core"} <= deps


def core_module_sources():
    """Each top-level module of hlx-core and its source files (a directory
    module's are all the files under it)."""
    sources = {p.stem: [p] for p in CORE_SRC.glob("*.rs") if p.stem != "lib"}
    for folder in (p for p in CORE_SRC.iterdir() if p.is_dir()):
        sources[folder.name] = sorted(folder.rglob("*.rs"))
    return sources


def core_module_graph():
    sources = core_module_sources()
    modules = set(sources)
    graph = {}
    for module, files in sources.items():
        # only the code outside the unit tests counts
        text = "".join(f.read_text().split("#[cfg(test)]")[0] for f in files)
        used = set(re.findall(r"crate::([a-z_]+)", text))
        graph[module] = sorted((used & modules) - {module})
    return graph


def find_cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_core_modules_import_each_other_without_loops():
    cycle = find_cycle(core_module_graph())
    assert cycle is None, "hlx-core modules import each other in a loop: " + " -> ".join(cycle)


def test_directory_modules_are_in_the_graph():
    graph = core_module_graph()
    assert "verification" in graph
    assert "record" not in graph["verification"], "the verification must not read records"


def test_the_loop_finder_finds_a_loop():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": [], "c": ["a"]}) is None


def test_deployed_functions_depend_on_nothing_under_local():
    meta = metadata()
    local = {p["name"] for p in meta["packages"] if "/local/" in p["manifest_path"]}
    functions = [
        p["name"] for p in meta["packages"]
        if "/functions/" in p["manifest_path"] and any(t["kind"] == ["bin"] for t in p["targets"])
    ]
    assert "api" in functions and "start-job" in functions
    for function in functions:
        reached = normal_dependencies(function) & local
        assert not reached, f"{function} depends on {sorted(reached)} under local/"
