//! The house plan, checked: every source file says what it owns, the pure modules stay pure, and no module
//! imports another that (directly or not) imports it back.
//!
//! A file's module is its path (`src/pool/select.rs` is `pool::select`). A reference is any `crate::…`, `super::…`
//! or `self::…` path in code, `use` trees included; it points at the longest module that exists along that path.
//! A name a `mod.rs` re-exports (`pub use child::Item`) points at the child it comes from. References to an ancestor
//! module itself (the `mod.rs` that declares the file) are declarations, not dependencies, and are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir).expect("src is readable").flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` → `["a", "b"]`; `src/a/mod.rs` → `["a"]`; `src/lib.rs` → `[]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The text without comments and string literals (so a path in a doc comment or a message is not a reference).
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if bytes[i..].starts_with(b"/*") {
            i += 2;
            while i + 1 < bytes.len() && !bytes[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if bytes[i] == b'r' && bytes[i..].starts_with(b"r#\"") {
            let end = text[i + 3..].find("\"#").map_or(bytes.len(), |e| i + 3 + e + 2);
            i = end;
            out.push_str("\"\"");
        } else if bytes[i] == b'\'' && i + 2 < bytes.len() && (bytes[i + 2] == b'\'' || bytes[i + 1] == b'\\') {
            // a char literal such as '"' or '\n' (lifetimes have no closing quote nearby)
            let close = text[i + 1..].find('\'').map_or(i + 1, |e| i + 1 + e + 1);
            i = close;
        } else {
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Every path of a `use` tree such as `crate::a::{b, c::{d, e}}`, as segments.
fn expand_use_tree(tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    match tree.find('{') {
        None => vec![tree.split("::").map(|s| s.trim().split(" as ").next().unwrap_or("").trim().to_string()).filter(|s| !s.is_empty()).collect()],
        Some(open) => {
            let prefix: Vec<String> =
                tree[..open].trim_end_matches("::").split("::").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut items = Vec::new();
            let (mut depth, mut start) = (0, 0);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&inner[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            items.push(&inner[start..]);
            items
                .into_iter()
                .filter(|item| !item.trim().is_empty())
                .flat_map(|item| {
                    expand_use_tree(item).into_iter().map(|tail| {
                        let mut path = prefix.clone();
                        path.extend(tail.into_iter().filter(|s| s != "self"));
                        path
                    })
                })
                .collect()
        }
    }
}

/// Every `crate::`/`super::`/`self::` path the code names.
fn referenced_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before_ok = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric() && rest.as_bytes()[at - 1] != b'_';
        let after = &rest[at + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if before_ok {
            paths.extend(expand_use_tree(&after[..end]));
        }
        rest = &after[if before_ok { end } else { 0 }..];
    }
    for root in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(root) {
            let at = from + found;
            from = at + root.len();
            if at > 0 && (code.as_bytes()[at - 1].is_ascii_alphanumeric() || matches!(code.as_bytes()[at - 1], b'_' | b':')) {
                continue;
            }
            let path: String = code[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':').collect();
            paths.push(path.split("::").filter(|s| !s.is_empty()).map(str::to_string).collect());
        }
    }
    paths
}

/// The module a path starting in `from` points at: the longest existing module along it. (`super` is the parent of
/// the file's module whether the file is `a.rs` or `a/mod.rs`; `self` is the module itself.)
fn resolve(from: &[String], path: &[String], modules: &BTreeSet<Vec<String>>, reexports: &Reexports) -> Option<Vec<String>> {
    let mut base: Vec<String> = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        Some("super" | "self") => from.to_vec(),
        _ => return None,
    };
    let mut segments = path.iter().peekable();
    // Apply the leading keywords.
    while let Some(segment) = segments.peek() {
        match segment.as_str() {
            "crate" => {}
            "self" => {}
            "super" => {
                base.pop()?;
            }
            _ => break,
        }
        segments.next();
    }
    let mut best = modules.contains(&base).then(|| base.clone());
    for segment in segments {
        if let Some(target) = reexports.get(&(base.clone(), segment.clone())) {
            // `pub use child::Item` in a `mod.rs`: the item lives in the child.
            return Some(target.clone());
        }
        base.push(segment.clone());
        if modules.contains(&base) {
            best = Some(base.clone());
        } else {
            break;
        }
    }
    best
}

/// `(module, item)` → the module a `pub use` in that module's file takes the item from.
type Reexports = BTreeMap<(Vec<String>, String), Vec<String>>;

fn reexports_of(by_module: &BTreeMap<Vec<String>, PathBuf>, modules: &BTreeSet<Vec<String>>) -> Reexports {
    let mut found = Reexports::new();
    for (module, file) in by_module {
        let code = code_only(&fs::read_to_string(file).expect("readable"));
        let mut rest = code.as_str();
        while let Some(at) = rest.find("pub use ") {
            let after = &rest[at + 8..];
            let end = after.find(';').unwrap_or(after.len());
            for path in expand_use_tree(&after[..end]) {
                let Some(item) = path.last() else { continue };
                let mut absolute = module.clone();
                let relative: &[String] = match path.first().map(String::as_str) {
                    Some("crate") => {
                        absolute.clear();
                        &path[1..]
                    }
                    Some("self") => &path[1..],
                    _ => &path,
                };
                absolute.extend(relative[..relative.len().saturating_sub(1)].iter().cloned());
                if modules.contains(&absolute) && absolute != *module {
                    found.insert((module.clone(), item.clone()), absolute);
                }
            }
            rest = &after[end..];
        }
    }
    found
}

struct Graph {
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn build_graph() -> (Graph, BTreeMap<Vec<String>, PathBuf>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let by_module: BTreeMap<Vec<String>, PathBuf> = files.iter().map(|f| (module_of(&src, f), f.clone())).collect();
    let modules: BTreeSet<Vec<String>> = by_module.keys().cloned().collect();
    let reexports = reexports_of(&by_module, &modules);
    let mut edges = BTreeMap::new();
    for (module, file) in &by_module {
        let code = code_only(&fs::read_to_string(file).expect("readable"));
        let mut targets = BTreeSet::new();
        for path in referenced_paths(&code) {
            let Some(target) = resolve(module, &path, &modules, &reexports) else { continue };
            if !module.starts_with(&target) {
                targets.insert(target);
            }
        }
        edges.insert(module.clone(), targets);
    }
    (Graph { edges }, by_module)
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<Vec<String>>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        next: usize,
        found: Vec<Vec<Vec<String>>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Vec<String>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.edges.get(v).into_iter().flatten() {
            if !graph.edges.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.edges.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let (graph, _) = build_graph();
    let found = cycles(&graph);
    let described: Vec<String> = found.iter().map(|c| c.iter().map(|m| name(m)).collect::<Vec<_>>().join(" ⇄ ")).collect();
    assert!(described.is_empty(), "import circles:\n{}", described.join("\n"));
}

/// Folders that are layers, not wings: each of their subfolders is a wing of its own.
const LAYERS: &[&str] = &["edge"];

/// The graph of wings: a wing is a folder directly under `src/` or under a layer (`src/edge/proxy/`,
/// `src/edge/admin/`, `src/pool/`, `src/admin/` …) and stands for every module inside it; a file directly in `src/`
/// or in a layer stands for itself.
fn wing_graph(graph: &Graph, files: &BTreeMap<Vec<String>, PathBuf>) -> Graph {
    let is_folder = |module: &[String]| files.get(module).is_some_and(|f| f.file_name().is_some_and(|n| n == "mod.rs"));
    let wing = |module: &Vec<String>| -> Vec<String> {
        let depth = if module.first().is_some_and(|m| LAYERS.contains(&m.as_str())) { 2 } else { 1 };
        if module.len() >= depth && is_folder(&module[..depth]) && !(depth == 1 && LAYERS.contains(&module[0].as_str())) {
            module[..depth].to_vec()
        } else {
            module.clone()
        }
    };
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (from, targets) in &graph.edges {
        let from = wing(from);
        let entry = edges.entry(from.clone()).or_default();
        for target in targets {
            let target = wing(target);
            if target != from {
                entry.insert(target);
            }
        }
    }
    Graph { edges }
}

#[test]
fn no_wing_imports_one_that_imports_it_back() {
    let (graph, files) = build_graph();
    let found = cycles(&wing_graph(&graph, &files));
    let described: Vec<String> = found.iter().map(|c| c.iter().map(|m| name(m)).collect::<Vec<_>>().join(" ⇄ ")).collect();
    assert!(described.is_empty(), "wings importing each other:\n{}", described.join("\n"));
}

#[test]
fn pure_modules_use_no_runtime_types() {
    let (_, files) = build_graph();
    for (module, file) in files {
        if module.first().is_some_and(|m| m == "edge") || module.is_empty() {
            continue;
        }
        let code = code_only(&fs::read_to_string(&file).expect("readable"));
        for runtime in ["worker::", "web_sys", "js_sys", "wasm_bindgen"] {
            assert!(!code.contains(runtime), "{} names {runtime}: pure modules take plain data", file.display());
        }
    }
}

#[test]
fn every_source_file_opens_with_a_module_doc_comment() {
    let (_, files) = build_graph();
    for file in files.values() {
        let text = fs::read_to_string(file).expect("readable");
        assert!(text.starts_with("//!"), "{} must start with a //! comment saying what it owns", file.display());
    }
}

#[test]
fn the_checker_finds_a_circle_and_reads_use_trees() {
    let trees = expand_use_tree("crate::a::{b, c::{d, e as f}, self}");
    assert_eq!(trees, vec![vec!["crate", "a", "b"], vec!["crate", "a", "c", "d"], vec!["crate", "a", "c", "e"], vec!["crate", "a"]]);
    let m = |s: &str| s.split("::").map(str::to_string).collect::<Vec<_>>();
    let graph = Graph {
        edges: BTreeMap::from([
            (m("a"), BTreeSet::from([m("b")])),
            (m("b"), BTreeSet::from([m("c")])),
            (m("c"), BTreeSet::from([m("a")])),
            (m("d"), BTreeSet::from([m("a")])),
        ]),
    };
    assert_eq!(cycles(&graph), vec![vec![m("a"), m("b"), m("c")]]);
    assert!(code_only("let x = \"crate::fake\"; // crate::also_fake\nuse crate::real;").contains("crate::real"));
    assert!(!code_only("let x = \"crate::fake\"; // crate::also_fake").contains("fake"));
}
