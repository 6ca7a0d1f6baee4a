//! The library reads from the bottom up: no module of `src/` uses, directly or through
//! others, a module that uses it (issue "A core that reads from the bottom up"). And each
//! program holds its C loop's decision: `bin/hb_server.rs` has hb_server.c's switch.

use std::collections::BTreeMap;
use std::path::Path;

type Graph = BTreeMap<String, Vec<String>>;

/// The modules each file of `src/` names as `crate::NAME` (or `crate::{A, B}`) outside
/// comments; `src/X/…` counts as module `X`.
fn graph(src: &Path) -> Graph {
    let mut g = Graph::new();
    let mut files = Vec::new();
    for e in std::fs::read_dir(src).unwrap().map(Result::unwrap) {
        let p = e.path();
        if p.is_dir() {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            for f in std::fs::read_dir(&p).unwrap().map(Result::unwrap) {
                files.push((name.clone(), f.path()));
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            let name = p.file_stem().unwrap().to_string_lossy().to_string();
            files.push((name, p));
        }
    }
    for (name, path) in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let deps = g.entry(name.clone()).or_default();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for part in line.split("crate::").skip(1) {
                let names: Vec<&str> = match part.strip_prefix('{') {
                    Some(list) => list.split('}').next().unwrap().split(',').collect(),
                    None => vec![part],
                };
                for n in names {
                    let n: String = n
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !n.is_empty() && n != name && !deps.contains(&n) {
                        deps.push(n);
                    }
                }
            }
        }
    }
    g
}

/// A cycle in `g`, as the path of modules that closes it.
fn cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(g: &Graph, m: &str, path: &mut Vec<String>, done: &mut Vec<String>) -> bool {
        if let Some(i) = path.iter().position(|p| p == m) {
            path.drain(..i);
            path.push(m.to_string());
            return true;
        }
        if done.iter().any(|d| d == m) {
            return false;
        }
        path.push(m.to_string());
        for d in g.get(m).into_iter().flatten() {
            if visit(g, d, path, done) {
                return true;
            }
        }
        path.pop();
        done.push(m.to_string());
        false
    }
    let mut done = Vec::new();
    for m in g.keys() {
        let mut path = Vec::new();
        if visit(g, m, &mut path, &mut done) {
            return Some(path);
        }
    }
    None
}

#[test]
fn a_cycle_is_found_where_there_is_one() {
    let mut g = Graph::new();
    g.insert("sys".into(), vec![]);
    g.insert("conn".into(), vec!["sys".into()]);
    g.insert("reader".into(), vec!["conn".into(), "writer".into()]);
    g.insert("writer".into(), vec!["conn".into()]);
    assert_eq!(cycle(&g), None);
    g.get_mut("writer").unwrap().push("reader".into());
    assert_eq!(
        cycle(&g),
        Some(vec!["reader".into(), "writer".into(), "reader".into()])
    );
}

/// A module split into a directory (`src/monitor.rs` and `src/monitor/*.rs`) is one module:
/// a use in its submodule closes a cycle as one in the module itself would.
#[test]
fn a_cycle_through_a_submodule_is_found() {
    let src = std::env::temp_dir().join(format!("layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(src.join("monitor")).unwrap();
    let write = |path: &str, text: &str| std::fs::write(src.join(path), text).unwrap();
    write("conn.rs", "use std::io;\n");
    write("server.rs", "use crate::monitor::Monitor;\n");
    write("monitor.rs", "mod cover;\nuse crate::conn::Shared;\n");
    write(
        "monitor/cover.rs",
        "use crate::monitor::Rule;\n// crate::server\n",
    );
    let g = graph(&src);
    assert_eq!(g["monitor"], ["conn"], "{g:?}");
    assert_eq!(cycle(&g), None, "{g:?}");
    write("monitor/cover.rs", "use crate::server::Refusals;\n");
    let g = graph(&src);
    let _ = std::fs::remove_dir_all(&src);
    assert_eq!(
        cycle(&g),
        Some(vec!["monitor".into(), "server".into(), "monitor".into()]),
        "{g:?}"
    );
}

#[test]
fn src_has_no_import_cycle() {
    let g = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        g["reader"].contains(&"conn".to_string()),
        "the parse sees uses: {g:?}"
    );
    assert!(
        g["monitor"].contains(&"conn".to_string()) && g["monitor"].contains(&"sys".to_string()),
        "the parse sees the uses of src/monitor/: {g:?}"
    );
    assert_eq!(cycle(&g), None, "{g:?}");
}

#[test]
fn hb_server_rs_holds_the_message_switch() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("bin/hb_server.rs"))
            .unwrap();
    for arm in [
        "MSG_TYPE1 =>",
        "MSG_TYPE2 =>",
        "MSG_HEARTBEAT => Verdict::Echo",
        "unknown message type (",
    ] {
        assert!(text.contains(arm), "bin/hb_server.rs has no {arm:?}");
    }
}
