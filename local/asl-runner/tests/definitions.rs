//! The project's deployed definitions load: nothing in them is refused.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hlx_asl_runner::StateMachine;

fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        out.push(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    out
}

#[test]
fn every_deployed_definition_loads() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../statemachine");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".asl.json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Stand-ins for what the deployment substitutes: Lambda ARNs for
        // `...Arn` placeholders, a name otherwise.
        let substitutions: BTreeMap<String, String> = placeholders(&text)
            .into_iter()
            .map(|name| {
                let value = if name.ends_with("Arn") {
                    format!("arn:aws:lambda:us-east-1:123456789012:function:{name}")
                } else {
                    name.clone()
                };
                (name, value)
            })
            .collect();
        let machine = StateMachine::load_file(&path, &substitutions)
            .unwrap_or_else(|e| panic!("{} does not load: {e}", path.display()));
        assert!(machine.states().count() > 0);
        if let Some(missing) = substitutions.keys().next() {
            let mut fewer = substitutions.clone();
            fewer.remove(&missing.clone());
            assert!(StateMachine::load(&text, &fewer).is_err());
        }
    }
}
