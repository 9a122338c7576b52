//! ARCHITECTURE.md's dependency table says the truth: for every workspace crate, the cuelab
//! crates it lists under "depends on" are exactly the `cuelab-*` entries of its Cargo.toml's
//! `[dependencies]`, and every crate of the workspace has a row.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Crate name -> internal dependencies, from the Cargo.toml files under `crates/`.
fn manifests(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(root.join("crates")).expect("list crates") {
        let manifest = entry.expect("entry").path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let doc: toml::Table = toml::from_str(&text).expect("parse Cargo.toml");
        let name = doc["package"]["name"]
            .as_str()
            .expect("package name")
            .to_string();
        let deps = doc
            .get("dependencies")
            .and_then(|d| d.as_table())
            .map(|d| {
                d.keys()
                    .filter(|k| k.starts_with("cuelab"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        out.insert(name, deps);
    }
    out
}

/// Crate name -> dependencies, from the table in ARCHITECTURE.md (first column the crate, the
/// "depends on" column a comma-separated list of crate names in backticks, or `—`).
fn documented(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with("| crate"));
    let header: Vec<&str> = lines
        .next()
        .expect("a table with a `crate` column")
        .split('|')
        .map(str::trim)
        .collect();
    let col = header
        .iter()
        .position(|h| *h == "depends on")
        .expect("a `depends on` column");
    let ticked = |cell: &str| -> BTreeSet<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let mut out = BTreeMap::new();
    for line in lines.skip(1).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = ticked(cells[1]).into_iter().next().expect("crate name");
        out.insert(name, ticked(cells[col]));
    }
    out
}

#[test]
fn architecture_table_matches_the_manifests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let doc = documented(&text);
    let real = manifests(&root);
    assert!(real.len() >= 8, "{real:?}");
    assert_eq!(
        doc.keys().collect::<Vec<_>>(),
        real.keys().collect::<Vec<_>>(),
        "crates in ARCHITECTURE.md vs crates/"
    );
    for (name, deps) in &real {
        assert_eq!(
            &doc[name], deps,
            "ARCHITECTURE.md row of {name}: documented vs Cargo.toml"
        );
    }
}
