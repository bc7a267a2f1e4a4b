//! Embeds every scenario under `scenarios/` in the visualizer (desktop and web), so that the scenario picker needs
//! no file system and the page needs no extra fetches.
use std::path::{Path, PathBuf};

fn main() {
    // Paths relative to this package, so that cargo checks this checkout's files: two checkouts that share a target
    // directory (CI reuses one across clones) would otherwise each see the other's scenarios as up to date.
    let relative_root = Path::new("../scenarios");
    // Read at run time: `env!` would freeze the path of whichever checkout compiled this script first, and cargo
    // reuses the compiled script in other checkouts that share the target directory (it then found no files).
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir).join(relative_root);
    println!("cargo:rerun-if-changed={}", relative_root.display());
    let mut files = Vec::new();
    collect(&root, relative_root, &mut files);
    assert!(!files.is_empty(), "no scenario files under {}", root.display());
    files.sort();
    let mut out = String::from("/// Every scenario under `scenarios/`: (name without `.ron`, file text).\n");
    out.push_str("pub static EMBEDDED: &[(&str, &str)] = &[\n");
    for (file, relative) in &files {
        println!("cargo:rerun-if-changed={}", relative.display());
        let name = file.strip_prefix(&root).expect("under root").with_extension("");
        let name = name.to_string_lossy().replace('\\', "/");
        // The text itself, not an include_str! of an absolute path into this checkout.
        let text = std::fs::read_to_string(file).expect("scenario file is UTF-8");
        out.push_str(&format!("    ({name:?}, {text:?}),\n"));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_scenarios.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

fn collect(dir: &Path, relative_dir: &Path, files: &mut Vec<(PathBuf, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let relative = relative_dir.join(entry.file_name());
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", relative.display());
            collect(&path, &relative, files);
        } else if path.extension().is_some_and(|e| e == "ron") {
            files.push((path, relative));
        }
    }
}
