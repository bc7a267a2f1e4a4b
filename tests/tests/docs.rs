//! The documentation's complete scenario examples load (or fail with exactly the error the docs show), so
//! `docs/scenario-format.md` and `docs/curriculum.md` cannot teach a format the loader rejects; and every bundled
//! scenario has its title and description in Korean as well as English.

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

/// Whether a text has Hangul syllables in it (what a Korean translation must have).
fn has_hangul(text: &str) -> bool {
    text.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c))
}

#[test]
fn every_bundled_scenario_has_a_korean_title_and_description() {
    let scenarios = kafkascope_tests::all_scenarios();
    assert!(scenarios.len() >= 30, "found {} scenarios", scenarios.len());
    for path in scenarios {
        let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let name = path.display();
        for (what, text) in [("title", &scenario.title), ("description", &scenario.description)] {
            assert!(!text.en.is_empty() && !has_hangul(&text.en), "{name}: the English {what} is missing or Korean");
            assert!(has_hangul(&text.ko), "{name}: no {what}_ko (the Korean {what} falls back to English)");
        }
    }
}

#[test]
fn a_scenario_without_korean_texts_shows_the_english_ones_in_korean() {
    let source = "Scenario(title: \"only English\", description: \"also English\", duration: \"1s\", \
                  cluster: (brokers: 1), topics: [(name: \"t\", partitions: 1, replication_factor: 1)])";
    let scenario = Scenario::parse(source, "plain.ron").expect("loads");
    assert_eq!(scenario.title.get(kafkascope_sim::scenario::Lang::Ko), "only English");
    assert_eq!(scenario.description.get(kafkascope_sim::scenario::Lang::Ko), "also English");
    let translated = source.replace("duration:", "title_ko: \"한국어 제목\", duration:");
    let scenario = Scenario::parse(&translated, "translated.ron").expect("loads");
    assert_eq!(scenario.title.get(kafkascope_sim::scenario::Lang::Ko), "한국어 제목");
    assert_eq!(scenario.title.get(kafkascope_sim::scenario::Lang::En), "only English");
}
