"""One feature set for the whole workspace.

Every third-party crate is built with the same features whatever is built:
`cargo run -p hlx`, one function (`cargo lambda build -p start-job`), the
whole workspace, or the tests with their dev-dependencies. Otherwise cargo
compiles the same crate again, once per feature set, and each of those builds
pays for it. The crate `hlx-workspace-hack` (managed by cargo-hakari, see
workspace-hack/Cargo.toml) pins the union; this test fails when a new
dependency or feature breaks that, naming the crate and both feature lists.

`cargo tree` resolves features without compiling anything, so this takes a
few seconds.

One member stays out on purpose: hlx-core, the domain, which must not depend
on the AWS SDK (the hack's features include the SDK's). It is listed under
`final-excludes` in .config/hakari.toml. Built as part of anything else it
gets the workspace's features; only `cargo test -p hlx-core` alone builds its
small set of dependencies with fewer features.
"""

import json
import os
import pathlib
import subprocess
import tomllib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CARGO = os.environ.get("CARGO", "cargo")


def cargo(*args: str) -> str:
    return subprocess.run(
        [CARGO, *args], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout


def workspace_packages() -> list[dict]:
    metadata = json.loads(cargo("metadata", "--no-deps", "--format-version", "1"))
    return metadata["packages"]


def outside_the_hack() -> set[str]:
    config = tomllib.loads((REPO / ".config" / "hakari.toml").read_text())
    return set(config.get("final-excludes", {}).get("workspace-members", []))


def members() -> list[str]:
    return sorted(p["name"] for p in workspace_packages() if p["name"] not in outside_the_hack())


def test_only_the_domain_stays_outside_the_hack():
    assert outside_the_hack() == {"hlx-core"}


def features(*selection: str) -> dict[str, str]:
    """Every external crate (name, version, host or target) in the build of
    `selection`, with the features it is built with."""
    out = cargo("tree", "--prefix", "none", "--format", "{p}|{f}", *selection)
    resolved: dict[str, str] = {}
    for line in out.splitlines():
        line = line.replace(" (*)", "")
        if "|" not in line:
            continue
        package, feature_list = line.split("|", 1)
        if str(REPO) in package:
            continue  # a workspace member: its features are its own
        resolved[package.strip()] = feature_list.strip()
    return resolved


@pytest.fixture(scope="module")
def workspace_with_dev() -> dict[str, str]:
    # The test build: every member with its dev-dependencies.
    return features("--workspace", "--edges", "normal,build,dev")


def test_the_workspace_hack_is_a_dependency_of_every_member():
    for package in workspace_packages():
        if package["name"] == "hlx-workspace-hack" or package["name"] in outside_the_hack():
            continue
        normal = {d["name"] for d in package["dependencies"] if d["kind"] is None}
        assert "hlx-workspace-hack" in normal, f"{package['name']} does not depend on hlx-workspace-hack"


@pytest.mark.parametrize("member", members())
def test_a_member_built_alone_uses_the_workspace_features(member, workspace_with_dev):
    alone = features("--package", member, "--edges", "normal,build")
    assert alone, f"cargo tree printed nothing for {member}"
    differing = {
        crate: (mine, workspace_with_dev.get(crate))
        for crate, mine in alone.items()
        if workspace_with_dev.get(crate) != mine
    }
    assert not differing, (
        f"`cargo build -p {member}` would build these crates with other features "
        "than the test build (run `cargo hakari generate`):\n"
        + "\n".join(f"  {c}: {a!r} vs {b!r}" for c, (a, b) in sorted(differing.items()))
    )


def test_the_release_binaries_use_the_workspace_features(workspace_with_dev):
    # What bench/run.sh and cargo-lambda build: the binaries without dev-dependencies.
    bins = features("--workspace", "--edges", "normal,build")
    differing = sorted(c for c, f in bins.items() if workspace_with_dev.get(c) != f)
    assert not differing, f"differ without dev-dependencies: {differing}"
