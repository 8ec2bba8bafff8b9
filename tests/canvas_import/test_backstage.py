"""Backstage catalog files as canvases: the mapping, the comments, and located problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultlab.canvas.importers import ImportFileError, Text, import_backstage

from .conftest import DATA, import_error, loads_as_canvas

SHOP = DATA / "shop-catalog.yaml"
LEDGER = DATA / "ledger-catalog.yaml"


def entity(kind: str, name: str, spec: str = "", namespace: str = "") -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return (f"apiVersion: backstage.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}{ns}\n"
            f"spec:\n  owner: team\n{spec}")


def imported_error(text: str, name: str = "catalog-info.yaml") -> ImportFileError:
    return import_error(import_backstage, text, name)


def test_the_shop_imports_as_a_canvas_that_loads(tmp_path: Path) -> None:
    imported = import_backstage([SHOP])
    canvas = loads_as_canvas(imported, tmp_path)
    assert canvas.name == "shop"  # the one System
    assert set(canvas.services) == {"storefront", "catalog", "payments", "sessions"}
    assert set(canvas.datastores) == {"orders-db", "catalog-db", "search-index",
                                      "sessions-cache"}
    assert {(d.caller, d.callee) for d in canvas.dependencies} == {
        ("storefront", "sessions"), ("storefront", "catalog"), ("storefront", "payments"),
        ("catalog", "catalog-db"), ("catalog", "search-index"), ("payments", "orders-db"),
        ("sessions", "sessions-cache")}
    assert all(d.kind == "hard" and d.timeout is None for d in canvas.dependencies)
    assert canvas.services["catalog"].description == "Products and prices (system shop)"


def test_the_text_says_where_each_part_came_from_and_what_is_missing() -> None:
    text = import_backstage([SHOP]).text
    assert "# from " in text and "shop-catalog.yaml:29: component:default/catalog" in text
    assert text.count("# TODO: instances, zones, availability — Backstage does not say") == 4
    assert text.count("# TODO: replicas, quorum, zones, availability") == 4
    assert text.count("# TODO: hard or soft, timeout, attempts, pool") == 7
    assert ("consumesApis api:default/catalog-api, provided by component:default/catalog"
            in text)


def test_notes_say_what_was_skipped_and_assumed() -> None:
    notes = [str(n) for n in import_backstage([SHOP]).notes]
    assert any("component:default/money-lib skipped: a library" in n for n in notes)
    assert any("dependsOn component:default/money-lib: left out" in n for n in notes)
    assert any("group:default/team-web skipped" in n for n in notes)
    assert "Backstage has no hard or soft dependencies" in notes[-1]
    assert all(len(n.splitlines()) == 1 and ": note: " in n for n in notes)


def test_several_files_with_namespaces(tmp_path: Path) -> None:
    imported = import_backstage([SHOP, LEDGER], name="shop-and-ledger")
    canvas = loads_as_canvas(imported, tmp_path)
    assert canvas.name == "shop-and-ledger"
    # two components named sessions, in two namespaces
    assert {"default.sessions", "payments.sessions", "ledger"} <= set(canvas.services)
    assert "ledger-queue" in canvas.datastores  # a kafka topic is a store
    assert "payments-cluster" in canvas.services  # a cluster is not
    edges = {(d.caller, d.callee) for d in canvas.dependencies}
    assert {("ledger", "ledger-queue"), ("ledger", "orders-db"), ("payments", "ledger"),
            ("payments.sessions", "payments-cluster"),
            ("storefront", "default.sessions")} <= edges
    notes = " ".join(str(n) for n in imported.notes)
    assert "component:payments/sessions is 'payments.sessions' in the canvas" in notes
    assert "of type 'kubernetes-cluster' is no store" in notes
    assert "of type 'grpc-service' taken as a service" in notes


def test_a_dangling_reference_is_located_with_a_hint() -> None:
    text = entity("Component", "web", "  type: service\n  dependsOn:\n    - resource:web-db\n")
    error = imported_error(text)
    (problem,) = error.problems
    assert (problem.line, problem.column) == (9, 7)
    assert "resource:default/web-db is in none of the files imported" in problem.message
    assert "import the catalog-info.yaml that defines it" in problem.hint


def test_an_unknown_kind_gets_a_did_you_mean() -> None:
    error = imported_error(entity("Componnet", "web", "  type: service\n"))
    assert "unknown kind 'Componnet'" in str(error) and "did you mean 'Component'" in str(error)
    assert error.problems[0].line == 2


def test_bad_yaml_is_located() -> None:
    text = entity("Component", "web", "  type: service\n") + "  dependsOn: [x\n"
    error = imported_error(text)
    assert "invalid YAML" in str(error) and error.problems[0].line >= 8


@pytest.mark.parametrize(("text", "says"), [
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", "not a Backstage entity"),
    ("- a\n- b\n", "a catalog entity is a mapping"),
    (entity("Component", "web"), "component:default/web has no spec.type"),
    (entity("Component", "web_", "  type: service\n"), "is not a Backstage name"),
    (entity("Component", "web", "  type: service\n  dependsOn: x\n"), "not a list"),
    (entity("Component", "web", "  type: service\n  dependsOn: [system:shop]\n"),
     "system:default/shop is not a component or resource"),
    (entity("Component", "web", "  type: service\n  dependsOn: [nothing]\n"),
     "'nothing' has no kind"),
    (entity("Component", "web", "  type: service\n") + "---\n"
     + entity("Component", "WEB", "  type: website\n"), "defined twice"),
])
def test_problems(text: str, says: str) -> None:
    assert says in str(imported_error(text))


def test_every_problem_is_reported_at_once() -> None:
    text = (entity("Component", "a", "  type: service\n  dependsOn: [resource:x]\n") + "---\n"
            + entity("Componen", "b") + "---\n"
            + entity("Component", "c", "  type: service\n  dependsOn: [component:y]\n"))
    assert len(imported_error(text).problems) == 3


def test_a_reference_without_kind_is_found_with_a_note(tmp_path: Path) -> None:
    text = (entity("Component", "web", "  type: service\n  dependsOn: [web-db]\n") + "---\n"
            + entity("Resource", "web-db", "  type: database\n"))
    imported = import_backstage(Text(text))
    assert [(d.caller, d.callee) for d in loads_as_canvas(imported, tmp_path).dependencies] == [
        ("web", "web-db")]
    assert any("'web-db' read as resource:default/web-db" in str(n) for n in imported.notes)


def test_a_datastore_depending_on_something_and_self_references_are_left_out() -> None:
    text = (entity("Component", "web", "  type: service\n  dependsOn: [component:web]\n")
            + "---\n" + entity("Resource", "db", "  type: database\n  dependsOn: "
                               "[component:web]\n"))
    imported = import_backstage(Text(text))
    assert imported.canvas().dependencies == []
    notes = " ".join(map(str, imported.notes))
    assert "it names itself" in notes and "a datastore makes no calls" in notes


def test_names_and_descriptions_that_yaml_would_misread_stay_as_they_are() -> None:
    text = entity("Component", "true", "  type: service\n  dependsOn: [component:1.5]\n")
    text = text.replace("name: true", "name: 'true'\n  description: \"a: b # c\\n'd'\"")
    text += "---\n" + entity("Component", "'1.5'", "  type: service\n")
    canvas = import_backstage(Text(text)).canvas()
    assert set(canvas.services) == {"true", "1.5"}
    assert canvas.services["true"].description == "a: b # c\n'd'"


def test_a_file_over_a_mebibyte_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "catalog-info.yaml"
    big.write_text("# x\n" * 300_000)
    with pytest.raises(ImportFileError, match="larger than 1 MiB"):
        import_backstage(big)


def test_a_missing_file_is_a_located_problem(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="cannot read file"):
        import_backstage([tmp_path / "nope.yaml"])
