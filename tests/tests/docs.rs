//! The documentation's complete scenario examples load (or fail with exactly the error the docs show):
//! `docs/scenario-format.md` and `docs/curriculum.md` must not teach a format the loader rejects.

use kafkascope_sim::Scenario;

fn ron_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```ron") => current = Some(String::new()),
            (Some(block), l) if l.starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn complete_examples_in_the_docs_load() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let mut loaded = 0;
    for doc in ["scenario-format.md", "curriculum.md"] {
        let text = std::fs::read_to_string(root.join(doc)).expect("doc exists");
        for block in ron_blocks(&text) {
            // Only whole scenarios can load on their own; fragments show one field at a time.
            let body = block.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
            if !body.trim_start().starts_with("Scenario(") {
                continue;
            }
            // An example either loads, or is shown with the very error the loader gives for it.
            match Scenario::parse(&block, "bad.ron") {
                Ok(_) => loaded += 1,
                Err(e) => assert!(
                    text.contains(&e.to_string()),
                    "an example in {doc} does not load and its error is not the documented one: {e}"
                ),
            }
        }
    }
    assert!(loaded >= 1, "the format doc has a complete example");
}
