"""The layout's rules that a lint holds (docs/adr/ADR-010-layout.md), checked on every run.

`lint-imports` (make lint) enforces the contracts in pyproject.toml; these tests keep the
contracts themselves honest: no exception admitted, and no cpis module left unguarded.
"""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What ADR-010 lets an app import from the wiring: infrastructure that itself imports no app.
CPIS_SHARED = {"cpis.resilience", "cpis.health"}


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def _cpis_modules() -> set[str]:
    modules = set()
    for path in (ROOT / "cpis").iterdir():
        if path.name == "__init__.py" or path.name.startswith("."):
            continue
        if path.suffix == ".py":
            modules.add(f"cpis.{path.stem}")
        elif path.is_dir() and (path / "__init__.py").exists():
            modules.add(f"cpis.{path.name}")
    return modules


def test_no_import_contract_admits_an_exception():
    admitted = {
        cid: contract["ignore_imports"] for cid, contract in _contracts().items() if "ignore_imports" in contract
    }
    assert admitted == {}


def test_apps_may_import_from_cpis_only_its_shared_infrastructure():
    contract = _contracts()["cpis"]
    apps = set(_contracts()["core"]["forbidden_modules"]) - {"cpis"} | {"core"}
    assert contract["type"] == "forbidden"
    assert set(contract["source_modules"]) == apps
    assert set(contract["forbidden_modules"]) == _cpis_modules() - CPIS_SHARED


def test_cpis_shared_infrastructure_imports_no_app():
    contract = _contracts()["cpis-infrastructure"]
    assert set(contract["source_modules"]) == CPIS_SHARED
    assert set(contract["forbidden_modules"]) == set(_contracts()["cpis"]["source_modules"])


def test_every_app_is_in_a_layer():
    layered = {app.strip() for layer in _contracts()["layers"]["layers"] for app in layer.split("|")}
    assert layered == set(_contracts()["cpis"]["source_modules"])
